{{- /*
Helpers of the plinth application chart. The chart renders, from the values of one
environment, exactly the objects `plinth build --target k8s` writes for it (without the
Namespace, which is created before the release). Names and labels follow plinth's
conventions: objects are named after their workload, whatever the release is called.
*/ -}}

{{- /*
plinth.workloads: every service and in-cluster data store as JSON, keyed by name, each with
its `component` (`service` or `datastore`) and its `values`. Empty when no environment is
selected, so that the shared values.yaml alone renders nothing.
*/ -}}
{{- define "plinth.workloads" -}}
{{- $all := dict -}}
{{- if .Values.environment -}}
{{- range $name, $w := .Values.services -}}
{{- $_ := set $all $name (dict "component" "service" "values" $w) -}}
{{- end -}}
{{- range $name, $w := .Values.datastores -}}
{{- $_ := set $all $name (dict "component" "datastore" "values" $w) -}}
{{- end -}}
{{- end -}}
{{- toJson $all -}}
{{- end -}}

{{- /* plinth.selectorLabels: the labels that select a workload's pods (dict: root, name). */ -}}
{{- define "plinth.selectorLabels" -}}
app.kubernetes.io/instance: {{ printf "%s-%s" .root.Values.platform .name | quote }}
app.kubernetes.io/name: {{ .name | quote }}
{{- end -}}

{{- /* plinth.commonLabels: the labels of every object of the environment. */ -}}
{{- define "plinth.commonLabels" -}}
{{- toYaml (.Values.commonLabels | default dict) -}}
{{- end -}}

{{- /*
plinth.labels: all labels of a workload's objects (dict: root, name, component, w): the
common labels, the selector, the component and the workload's team.
*/ -}}
{{- define "plinth.labels" -}}
{{- $labels := deepCopy (.root.Values.commonLabels | default dict) -}}
{{- $_ := set $labels "app.kubernetes.io/name" .name -}}
{{- $_ := set $labels "app.kubernetes.io/instance" (printf "%s-%s" .root.Values.platform .name) -}}
{{- $_ := set $labels "app.kubernetes.io/component" .component -}}
{{- with .w.team -}}
{{- $_ := set $labels "team" . -}}
{{- end -}}
{{- toYaml $labels -}}
{{- end -}}

{{- /*
plinth.metadata: name, namespace and labels of a workload's object (the labels' dict, plus
`objectName` when the object is not named after the workload).
*/ -}}
{{- define "plinth.metadata" -}}
name: {{ .objectName | default .name | quote }}
namespace: {{ .root.Release.Namespace | quote }}
labels:
  {{- include "plinth.labels" . | nindent 2 }}
{{- end -}}

{{- /*
plinth.networkPort: `port` and `protocol` of the workload port called `name` (dict: ports,
name) as YAML. A name that is not declared falls back to 80/TCP, as plinth's lowering does
for a metrics endpoint of a workload without ports.
*/ -}}
{{- define "plinth.networkPort" -}}
{{- $found := dict "port" 80 "protocol" "TCP" -}}
{{- range (.ports | default list) -}}
{{- if eq .name $.name -}}
{{- $found = . -}}
{{- end -}}
{{- end -}}
port: {{ $found.port | int }}
protocol: {{ $found.protocol | quote }}
{{- end -}}

{{- /* plinth.maxReplicas: the most replicas a workload can run (its values). */ -}}
{{- define "plinth.maxReplicas" -}}
{{- if .autoscaling -}}
{{- .autoscaling.maxReplicas | int -}}
{{- else -}}
{{- .replicaCount | default 1 | int -}}
{{- end -}}
{{- end -}}

{{- /* plinth.configKey: the ConfigMap key of a config file path. */ -}}
{{- define "plinth.configKey" -}}
{{- regexReplaceAll "^/+" . "" | replace "/" "_" -}}
{{- end -}}

{{- /* plinth.targetKind: the kind of object running a workload (its values). */ -}}
{{- define "plinth.targetKind" -}}
{{- if eq .kind "stateful" -}}StatefulSet{{- else if eq .kind "cron" -}}CronJob{{- else if eq .kind "job" -}}Job{{- else if .rollout -}}Rollout{{- else -}}Deployment{{- end -}}
{{- end -}}

{{- /* plinth.targetApiVersion: the API version of that object (its values). */ -}}
{{- define "plinth.targetApiVersion" -}}
{{- if or (eq .kind "cron") (eq .kind "job") -}}batch/v1{{- else if .rollout -}}argoproj.io/v1alpha1{{- else -}}apps/v1{{- end -}}
{{- end -}}

{{- /*
plinth.env: the container environment of `env` and `secrets` (dict holding both) as a YAML
list sorted by name, secrets as `secretKeyRef`s; nothing when there is none. Values that read
another variable (`$(VAR)`) come last, since Kubernetes expands only earlier variables.
*/ -}}
{{- define "plinth.env" -}}
{{- $env := dict -}}
{{- $reading := dict -}}
{{- range $k, $v := .env -}}
{{- if contains "$(" (toString $v) -}}
{{- $_ := set $reading $k (dict "name" $k "value" (toString $v)) -}}
{{- else -}}
{{- $_ := set $env $k (dict "name" $k "value" (toString $v)) -}}
{{- end -}}
{{- end -}}
{{- range $k, $r := .secrets -}}
{{- $_ := set $env $k (dict "name" $k "valueFrom" (dict "secretKeyRef" (dict "name" $r.secret "key" $r.key "optional" false))) -}}
{{- end -}}
{{- $list := list -}}
{{- range $k, $e := $env -}}
{{- $list = append $list $e -}}
{{- end -}}
{{- range $k, $e := $reading -}}
{{- $list = append $list $e -}}
{{- end -}}
{{- with $list -}}
{{- toYaml . -}}
{{- end -}}
{{- end -}}

{{- /* plinth.podSecurityContext: the pod half of the secure defaults (the security values). */ -}}
{{- define "plinth.podSecurityContext" -}}
runAsNonRoot: {{ not .allowRoot }}
runAsUser: {{ .runAsUser | int64 }}
runAsGroup: {{ .runAsUser | int64 }}
fsGroup: {{ .runAsUser | int64 }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- /* plinth.containerSecurityContext: the container half (the security values). */ -}}
{{- define "plinth.containerSecurityContext" -}}
allowPrivilegeEscalation: false
privileged: false
readOnlyRootFilesystem: {{ .readOnlyRootFilesystem }}
runAsNonRoot: {{ not .allowRoot }}
runAsUser: {{ .runAsUser | int64 }}
runAsGroup: {{ .runAsUser | int64 }}
capabilities:
  drop:
    - ALL
  {{- with .addCapabilities }}
  add:
    {{- toYaml . | nindent 4 }}
  {{- end }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- /*
plinth.podTemplate: the pod template of a workload (dict: root, name, component, w,
restartPolicy). Every pod runs as a non-root user with a read-only root filesystem (an
emptyDir at /tmp), no privilege escalation, all capabilities dropped and seccomp
RuntimeDefault, unless the values opt out.
*/ -}}
{{- define "plinth.podTemplate" -}}
{{- $w := .w -}}
{{- $s := $w.security -}}
{{- $ctx := . -}}
metadata:
  labels:
    {{- include "plinth.labels" . | nindent 4 }}
    {{- if $w.mesh }}
    sidecar.istio.io/inject: "true"
    {{- end }}
  {{- $annotations := deepCopy ($w.podAnnotations | default dict) }}
  {{- with $w.metrics }}
  {{- $_ := set $annotations "prometheus.io/path" .path }}
  {{- $served := $w.ports | default list }}
  {{- range ($w.sidecars | default list) }}
  {{- $served = append $served .port }}
  {{- end }}
  {{- $_ := set $annotations "prometheus.io/port" ((include "plinth.networkPort" (dict "ports" $served "name" .port) | fromYaml).port | toString) }}
  {{- $_ := set $annotations "prometheus.io/scrape" "true" }}
  {{- end }}
  {{- with $annotations }}
  annotations:
    {{- range $k, $v := . }}
    {{ $k | quote }}: {{ $v | quote }}
    {{- end }}
  {{- end }}
spec:
  serviceAccountName: {{ .name | quote }}
  automountServiceAccountToken: {{ $s.serviceAccountToken }}
  {{- with $w.imagePullSecrets }}
  imagePullSecrets:
    {{- range . }}
    - name: {{ . | quote }}
    {{- end }}
  {{- end }}
  {{- with $w.terminationGracePeriodSeconds }}
  terminationGracePeriodSeconds: {{ . | int }}
  {{- end }}
  {{- with $w.nodeGroup }}
  nodeSelector:
    plinth/node-group: {{ .name | quote }}
  {{- if .dedicated }}
  tolerations:
    - key: plinth/node-group
      operator: Equal
      value: {{ .name | quote }}
      effect: NoSchedule
  {{- end }}
  {{- end }}
  {{- with .restartPolicy }}
  restartPolicy: {{ . | quote }}
  {{- end }}
  securityContext:
    {{- include "plinth.podSecurityContext" $s | nindent 4 }}
  {{- if ge (include "plinth.maxReplicas" $w | int) 2 }}
  topologySpreadConstraints:
    {{- range list "topology.kubernetes.io/zone" "kubernetes.io/hostname" }}
    - maxSkew: 1
      topologyKey: {{ . | quote }}
      whenUnsatisfiable: ScheduleAnyway
      labelSelector:
        matchLabels:
          {{- include "plinth.selectorLabels" $ctx | nindent 10 }}
    {{- end }}
  {{- end }}
  containers:
    - name: {{ .name | quote }}
      image: {{ required (printf "workload %s needs an image" .name) $w.image | quote }}
      imagePullPolicy: Always
      {{- with $w.command }}
      command:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $w.args }}
      args:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $w.ports }}
      ports:
        {{- range . }}
        - name: {{ .name | quote }}
          containerPort: {{ .port | int }}
          protocol: {{ .protocol | quote }}
        {{- end }}
      {{- end }}
      {{- with include "plinth.env" $w }}
      env:
        {{- . | nindent 8 }}
      {{- end }}
      resources:
        {{- toYaml $w.resources | nindent 8 }}
      {{- with $w.livenessProbe }}
      livenessProbe:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $w.readinessProbe }}
      readinessProbe:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $w.startupProbe }}
      startupProbe:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- include "plinth.containerSecurityContext" $s | nindent 8 }}
      {{- with $w.preStopSleepSeconds }}
      lifecycle:
        preStop:
          sleep:
            seconds: {{ . | int }}
      {{- end }}
      {{- $mounts := list }}
      {{- $volumes := list }}
      {{- if $s.readOnlyRootFilesystem }}
      {{- $mounts = append $mounts (dict "name" "tmp" "mountPath" "/tmp") }}
      {{- $volumes = append $volumes (dict "name" "tmp" "emptyDir" (dict)) }}
      {{- end }}
      {{- range $w.volumes }}
      {{- $mounts = append $mounts (dict "name" .name "mountPath" .path) }}
      {{- if .sizeLimit }}
      {{- $volumes = append $volumes (dict "name" .name "emptyDir" (dict "sizeLimit" .sizeLimit)) }}
      {{- else }}
      {{- $volumes = append $volumes (dict "name" .name "emptyDir" (dict)) }}
      {{- end }}
      {{- end }}
      {{- if $w.configFiles }}
      {{- range $w.configFiles }}
      {{- $mounts = append $mounts (dict "name" "config" "mountPath" .path "subPath" (include "plinth.configKey" .path) "readOnly" true) }}
      {{- end }}
      {{- $volumes = append $volumes (dict "name" "config" "configMap" (dict "name" (printf "%s-config" .name))) }}
      {{- end }}
      {{- if and $w.persistence (eq $w.kind "stateful") }}
      {{- $mounts = append $mounts (dict "name" "data" "mountPath" $w.persistence.mountPath) }}
      {{- end }}
      {{- /* A replicated Redis starts from the configuration its init container writes. */}}
      {{- $own := $mounts }}
      {{- with $w.redisFailover }}
      {{- $own = append $mounts .mount }}
      {{- $volumes = append $volumes .volume }}
      {{- end }}
      {{- with $own }}
      volumeMounts:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    {{- with $w.redisFailover }}
    {{- /* Sentinel, beside a replicated Redis. */}}
    {{- toYaml .containers | nindent 4 }}
    {{- end }}
    {{- /* Sidecars (a store's exporter) share the workload's hardening; they write nothing. */}}
    {{- range $w.sidecars }}
    - name: {{ .name | quote }}
      image: {{ .image | quote }}
      imagePullPolicy: Always
      ports:
        - name: {{ .port.name | quote }}
          containerPort: {{ .port.port | int }}
          protocol: {{ .port.protocol | quote }}
      {{- with include "plinth.env" . }}
      env:
        {{- . | nindent 8 }}
      {{- end }}
      resources:
        {{- toYaml .resources | nindent 8 }}
      livenessProbe:
        httpGet:
          path: {{ .healthPath | quote }}
          port: {{ .port.name | quote }}
        periodSeconds: 10
      readinessProbe:
        httpGet:
          path: {{ .healthPath | quote }}
          port: {{ .port.name | quote }}
        periodSeconds: 10
      securityContext:
        {{- include "plinth.containerSecurityContext" $s | nindent 8 }}
    {{- end }}
  {{- /* Init containers share the workload's environment, limits, mounts and hardening. */}}
  {{- $env := include "plinth.env" $w }}
  {{- $failover := $w.redisFailover | default dict }}
  {{- if or $w.initContainers $failover.initContainers }}
  initContainers:
    {{- with $failover.initContainers }}
    {{- /* A replicated Redis's configuration, written first. */}}
    {{- toYaml . | nindent 4 }}
    {{- end }}
    {{- range $w.initContainers }}
    - name: {{ .name | quote }}
      image: {{ .image | quote }}
      imagePullPolicy: Always
      command:
        {{- toYaml .command | nindent 8 }}
      {{- with $env }}
      env:
        {{- . | nindent 8 }}
      {{- end }}
      resources:
        {{- toYaml $w.resources | nindent 8 }}
      securityContext:
        {{- include "plinth.containerSecurityContext" $s | nindent 8 }}
      {{- with $mounts }}
      volumeMounts:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    {{- end }}
  {{- end }}
  {{- with $volumes }}
  volumes:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}
