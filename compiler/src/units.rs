//! Parsers for the value syntaxes the spec uses: Kubernetes quantities, durations, cron
//! schedules, image references and DNS names; and the few name derivations whose collisions
//! `check` must predict (ConfigMap keys, Compose config names, TLS secrets, cloud names).
//!
//! `check` calls them to report problems; `ir` calls them to build typed values. Keeping both
//! on the same functions means a value the checker accepted always lowers, and a name the
//! checker proved unique is the name the emitters write (`ir::naming` delegates here, since
//! `check` may not import a later phase).

/// A parsed CPU quantity in millicores.
pub fn parse_cpu(text: &str) -> Result<i64, String> {
    let t = text.trim();
    if let Some(m) = t.strip_suffix('m') {
        return m.parse::<i64>().ok().filter(|v| *v > 0).ok_or_else(|| {
            format!("`{text}` is not a CPU quantity: millicores must be a positive whole number")
        });
    }
    match t.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() && (v * 1000.0).fract() == 0.0 && v <= 1e6 => {
            Ok((v * 1000.0) as i64)
        }
        Ok(_) => Err(format!(
            "`{text}` is not a CPU quantity: use whole millicores (`250m`) or cores (`0.5`, `2`)"
        )),
        Err(_) => Err(format!(
            "`{text}` is not a CPU quantity: expected cores (`2`, `0.5`) or millicores (`250m`)"
        )),
    }
}

/// Binary and decimal suffixes Kubernetes accepts for byte quantities.
const BYTE_SUFFIXES: &[(&str, i128)] = &[
    ("Ki", 1 << 10),
    ("Mi", 1 << 20),
    ("Gi", 1 << 30),
    ("Ti", 1 << 40),
    ("Pi", 1 << 50),
    ("Ei", 1 << 60),
    ("k", 1_000),
    ("M", 1_000_000),
    ("G", 1_000_000_000),
    ("T", 1_000_000_000_000),
    ("P", 1_000_000_000_000_000),
    ("E", 1_000_000_000_000_000_000),
];

/// A parsed byte quantity (memory, storage) in bytes.
pub fn parse_bytes(text: &str) -> Result<i128, String> {
    let t = text.trim();
    let (number, factor) = BYTE_SUFFIXES
        .iter()
        .find_map(|(s, f)| t.strip_suffix(s).map(|n| (n, *f)))
        .unwrap_or((t, 1));
    let hint = || {
        let near = ["Ki", "Mi", "Gi", "Ti"]
            .iter()
            .find(|s| t.to_ascii_lowercase().contains(&s.to_ascii_lowercase()))
            .map(|s| {
                format!(
                    " (did you mean `{}{}`?)",
                    t.trim_end_matches(|c: char| c.is_ascii_alphabetic()),
                    s
                )
            })
            .filter(|s| !s.contains(&format!("`{t}`")))
            .unwrap_or_default();
        format!("`{text}` is not a byte quantity: expected a number with a suffix such as `Mi` or `Gi`{near}")
    };
    // Kubernetes accepts decimals (`0.5Gi`) as long as the result is a whole number of bytes.
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    let digits_ok = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if (whole.is_empty() && frac.is_empty())
        || !digits_ok(whole)
        || !digits_ok(frac)
        || frac.len() > 9
        || number.ends_with('.')
    {
        return Err(hint());
    }
    let scale = 10i128.pow(frac.len() as u32);
    let mantissa: i128 = format!("{whole}{frac}").parse().map_err(|_| hint())?;
    let scaled = mantissa
        .checked_mul(factor)
        .ok_or_else(|| format!("`{text}` is too large"))?;
    if scaled % scale != 0 {
        return Err(format!("`{text}` is not a whole number of bytes"));
    }
    let n = scaled / scale;
    if n == 0 {
        return Err(format!("`{text}` is zero"));
    }
    Ok(n)
}

/// The number and the unit word of a value written like prose (`2 cores`, `1 GB`,
/// `500 ms`, `90%`): the digits (with a sign or a decimal point) and the letters or `%`
/// after them, without the spaces between.
fn number_and_unit(text: &str) -> Option<(&str, String)> {
    let t = text.trim();
    let end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(end);
    number.parse::<f64>().ok()?;
    Some((number, unit.split_whitespace().collect()))
}

/// The CPU quantity a malformed one probably meant: `2 cores` → `2`, `500 millicores` →
/// `500m`, `0.5 vCPU` → `0.5`.
pub fn suggest_cpu(text: &str) -> Option<String> {
    let (number, unit) = number_and_unit(text)?;
    let fixed = match unit.to_ascii_lowercase().as_str() {
        "" | "core" | "cores" | "cpu" | "cpus" | "vcpu" | "vcpus" => number.to_owned(),
        "m" | "milli" | "millicore" | "millicores" | "mcpu" => format!("{number}m"),
        _ => return None,
    };
    (fixed != text && parse_cpu(&fixed).is_ok()).then_some(fixed)
}

/// The byte quantity a malformed one probably meant, in the binary units Kubernetes users
/// write: `1GB` → `1Gi`, `512 MiB` → `512Mi`, `100 gb` → `100Gi`.
pub fn suggest_bytes(text: &str) -> Option<String> {
    let (number, unit) = number_and_unit(text)?;
    let suffix = match unit.to_ascii_lowercase().trim_end_matches('b') {
        "k" | "ki" => "Ki",
        "m" | "mi" => "Mi",
        "g" | "gi" => "Gi",
        "t" | "ti" => "Ti",
        _ => return None,
    };
    let fixed = format!("{number}{suffix}");
    (fixed != text && parse_bytes(&fixed).is_ok()).then_some(fixed)
}

/// The duration a malformed one probably meant: `500 ms` → `500ms`, `5 minutes` → `5m`,
/// `1.5s` has no exact form and no suggestion.
pub fn suggest_duration(text: &str) -> Option<String> {
    let (number, unit) = number_and_unit(text)?;
    let unit = match unit.to_ascii_lowercase().as_str() {
        "ms" | "msec" | "millisecond" | "milliseconds" => "ms",
        "s" | "sec" | "secs" | "second" | "seconds" => "s",
        "m" | "min" | "mins" | "minute" | "minutes" => "m",
        "h" | "hr" | "hrs" | "hour" | "hours" => "h",
        "d" | "day" | "days" => "d",
        "w" | "week" | "weeks" => "w",
        _ => return None,
    };
    let fixed = format!("{number}{unit}");
    (fixed != text && parse_duration(&fixed).is_ok()).then_some(fixed)
}

/// The plain number a string probably meant: `"90%"` → `90`, `"3"` → `3`, `"2 cores"` → `2`.
pub fn suggest_number(text: &str) -> Option<String> {
    let (number, unit) = number_and_unit(text)?;
    matches!(
        unit.to_ascii_lowercase().as_str(),
        "" | "%" | "percent" | "core" | "cores" | "cpu" | "cpus" | "x" | "replicas"
    )
    .then(|| number.to_owned())
}

/// The DNS-1123 label closest to `name`: lowercase, with `_`, `.` and spaces as `-` and other
/// characters dropped (`Api_Gateway` → `api-gateway`), if that leaves a label at all.
pub fn dns_label_form(name: &str) -> Option<String> {
    let mapped: String = name
        .chars()
        .filter_map(|c| match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' => Some(c.to_ascii_lowercase()),
            '_' | '.' | ' ' | '-' => Some('-'),
            _ => None,
        })
        .collect();
    let label = mapped.trim_matches('-');
    (label != name && is_dns_label(label)).then(|| label.to_owned())
}

/// Whether `region` is shaped like an AWS region code: a lowercase area (`us`, `eu`,
/// `us-gov`), a direction (`east`, `southeast`), a number: `us-east-1`, `ap-southeast-4`.
/// Regions AWS has not opened yet pass too; the shape is what a typo breaks.
pub fn is_region_code(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    let Some((number, words)) = parts.split_last() else {
        return false;
    };
    words.len() >= 2
        && words
            .iter()
            .all(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase()))
        && (1..=2).contains(&number.len())
        && number.chars().all(|c| c.is_ascii_digit())
}

/// Formats millicores the way Kubernetes users write them.
pub fn format_cpu(milli: i64) -> String {
    if milli % 1000 == 0 {
        format!("{}", milli / 1000)
    } else {
        format!("{milli}m")
    }
}

/// Bytes as Prometheus reads a size (`--storage.tsdb.retention.size`, `retentionSize`):
/// its `KB`, `MB`, `GB`… are powers of 1024. The largest unit that divides them exactly.
pub fn prometheus_bytes(bytes: i128) -> String {
    for (suffix, factor) in [
        ("EB", 1i128 << 60),
        ("PB", 1 << 50),
        ("TB", 1 << 40),
        ("GB", 1 << 30),
        ("MB", 1 << 20),
        ("KB", 1 << 10),
    ] {
        if bytes % factor == 0 {
            return format!("{}{}", bytes / factor, suffix);
        }
    }
    format!("{bytes}B")
}

/// Formats bytes with the largest binary suffix that divides them exactly.
pub fn format_bytes(bytes: i128) -> String {
    for (suffix, factor) in [
        ("Ei", 1i128 << 60),
        ("Pi", 1 << 50),
        ("Ti", 1 << 40),
        ("Gi", 1 << 30),
        ("Mi", 1 << 20),
        ("Ki", 1 << 10),
    ] {
        if bytes % factor == 0 {
            return format!("{}{}", bytes / factor, suffix);
        }
    }
    bytes.to_string()
}

/// The longest duration Prometheus, Alertmanager and Kubernetes' Go code can hold, in
/// milliseconds: `time.Duration` counts nanoseconds in an `int64`, about 292 years, and a
/// longer value is "duration out of range" to promtool and amtool. `106751d` is the longest
/// whole number of days below it.
pub const MAX_DURATION_MS: u64 = (i64::MAX / 1_000_000) as u64;

/// A duration such as `30s`, `5m`, `1h30m`, `7d`, `500ms`, in milliseconds.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let err = || {
        format!("`{text}` is not a duration: expected a number with a unit, e.g. `30s`, `5m`, `1h`, `7d`, `500ms`")
    };
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(err());
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(err)?;
        if digits == 0 {
            return Err(err());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| err())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            "y" => 31_536_000_000,
            _ => return Err(err()),
        };
        total = n
            .checked_mul(factor)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(err)?;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

/// Formats milliseconds in the largest exact Prometheus unit (`90s`, `5m`, `1h`, `500ms`).
pub fn format_duration(ms: u64) -> String {
    if ms == 0 {
        return "0s".to_owned();
    }
    for (unit, f) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
    ] {
        if ms % f == 0 {
            return format!("{}{unit}", ms / f);
        }
    }
    format!("{ms}ms")
}

/// Formats milliseconds as a Go duration in its largest whole unit, at most hours
/// (`240h`, `90m`): Alertmanager's `--data.retention` and the Prometheus operator's
/// `Alertmanager.spec.retention` (pattern `[0-9]+(ms|s|m|h)`) have no days.
pub fn format_go_duration(ms: u64) -> String {
    if ms == 0 {
        return "0s".to_owned();
    }
    for (unit, f) in [("h", 3_600_000), ("m", 60_000), ("s", 1_000)] {
        if ms % f == 0 {
            return format!("{}{unit}", ms / f);
        }
    }
    format!("{ms}ms")
}

/// The cron schedule of a restore drill's keyword (`daily`, `weekly`, `monthly`): at 05:00
/// UTC, on Sundays for `weekly`, on the first of the month for `monthly`; `None` for anything
/// else, which must then be a cron schedule itself.
pub fn verify_schedule(keyword: &str) -> Option<String> {
    match keyword {
        "daily" => Some("0 5 * * *".to_owned()),
        "weekly" => Some("0 5 * * 0".to_owned()),
        "monthly" => Some("0 5 1 * *".to_owned()),
        _ => None,
    }
}

/// Validates a five-field cron schedule (minute hour day-of-month month day-of-week), as
/// Kubernetes CronJobs accept it, including the `@daily`-style macros.
pub fn check_cron(text: &str) -> Result<(), String> {
    let t = text.trim();
    if matches!(
        t,
        "@yearly" | "@annually" | "@monthly" | "@weekly" | "@daily" | "@midnight" | "@hourly"
    ) {
        return Ok(());
    }
    let fields: Vec<&str> = t.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!(
            "`{text}` has {} fields; a cron schedule has five: minute hour day-of-month month day-of-week",
            fields.len()
        ));
    }
    let names = ["minute", "hour", "day-of-month", "month", "day-of-week"];
    let ranges = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)];
    let months = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let days = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    for (i, field) in fields.iter().enumerate() {
        let (lo, hi) = ranges[i];
        let value = |s: &str| -> Option<u32> {
            let lower = s.to_ascii_lowercase();
            let named = match i {
                3 => months
                    .iter()
                    .position(|m| *m == lower)
                    .map(|p| p as u32 + 1),
                4 => days.iter().position(|d| *d == lower).map(|p| p as u32),
                _ => None,
            };
            named
                .or_else(|| s.parse::<u32>().ok())
                .filter(|v| (lo..=hi).contains(v))
        };
        for part in field.split(',') {
            let (range, step) = match part.split_once('/') {
                Some((r, s)) => (r, Some(s)),
                None => (part, None),
            };
            let ok_step = step.is_none_or(|s| s.parse::<u32>().is_ok_and(|v| v > 0));
            let ok_range = range == "*"
                || range == "?"
                || match range.split_once('-') {
                    Some((a, b)) => matches!((value(a), value(b)), (Some(x), Some(y)) if x <= y),
                    None => value(range).is_some(),
                };
            if !ok_step || !ok_range || part.is_empty() {
                return Err(format!(
                    "`{part}` is not a valid {} field (allowed {lo}-{hi}, `*`, ranges, lists and steps)",
                    names[i]
                ));
            }
        }
    }
    Ok(())
}

/// A parsed image reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageRef {
    /// Registry and repository, e.g. `ghcr.io/acme/api`.
    pub repository: String,
    /// Tag, when given.
    pub tag: Option<String>,
    /// Digest, when given.
    pub digest: Option<String>,
}

/// Parses `registry/name:tag` or `registry/name@sha256:…`.
pub fn parse_image(text: &str) -> Result<ImageRef, String> {
    let t = text.trim();
    if t.is_empty() || t != text || t.chars().any(char::is_whitespace) {
        return Err(format!(
            "`{text}` is not an image reference: expected lowercase `registry/name:tag`"
        ));
    }
    let (name, digest) = match t.split_once('@') {
        Some((n, d)) => {
            let valid = d.strip_prefix("sha256:").is_some_and(|h| {
                h.len() == 64
                    && h.chars()
                        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            });
            if !valid {
                return Err(format!(
                    "`{d}` is not a digest: expected `sha256:` and 64 lowercase hex digits"
                ));
            }
            (n, Some(d.to_owned()))
        }
        None => (t, None),
    };
    // A colon after the last slash separates the tag; one before it is a registry port.
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let (repository, tag) = match name[last_slash..].rfind(':') {
        Some(i) => (
            &name[..last_slash + i],
            Some(name[last_slash + i + 1..].to_owned()),
        ),
        None => (name, None),
    };
    let component_ok = |c: &str| {
        !c.is_empty()
            && c.chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-:".contains(ch))
            && c.starts_with(|ch: char| ch.is_ascii_alphanumeric())
    };
    if !repository.split('/').all(component_ok) {
        return Err(format!(
            "`{text}` is not an image reference: `{repository}` is not a valid repository"
        ));
    }
    if let Some(tag) = &tag {
        let valid = !tag.is_empty()
            && tag.len() <= 128
            && tag
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            && !tag.starts_with(['.', '-']);
        if !valid {
            return Err(format!("`{tag}` is not a valid image tag"));
        }
    }
    Ok(ImageRef {
        repository: repository.to_owned(),
        tag,
        digest,
    })
}

/// Whether `name` is a DNS-1123 label: lowercase alphanumerics and `-`, at most 63 characters,
/// starting and ending with an alphanumeric.
pub fn is_dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// Whether `text` is shaped like an e-mail address an ACME server accepts: one `@`, a local
/// part of printable characters without spaces, and a domain of at least two DNS labels
/// (Let's Encrypt rejects a bare host name).
pub fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && local
            .chars()
            .all(|c| c.is_ascii_graphic() && !"@<>()[]\\,;:\"".contains(c))
        && domain.len() <= 253
        && domain.contains('.')
        && domain
            .split('.')
            .all(|l| is_dns_label(&l.to_ascii_lowercase()))
}

/// Whether `name` is a valid port name (IANA service name): at most 15 characters,
/// lowercase alphanumerics and `-`, at least one letter, no leading, trailing or double `-`.
pub fn is_port_name(name: &str) -> bool {
    name.len() <= 15
        && is_dns_label(name)
        && name.chars().any(|c| c.is_ascii_lowercase())
        && !name.contains("--")
}

/// The ConfigMap key (and Compose config suffix source) of a config file: its path without the
/// leading `/`, with every `/` replaced by `_`. Two paths can map to one key
/// (`/etc/app/a.conf` and `/etc/app_a.conf`), which `check` rejects.
pub fn config_map_key(path: &str) -> String {
    path.trim_start_matches('/').replace('/', "_")
}

/// The Compose config name of a workload's config file: the workload name and the path with
/// every `/` replaced by `-`. Compose configs share one namespace per project, so `api` with
/// `/b-c` and `api-b` with `/c` would both be `api-b-c`, which `check` rejects.
pub fn compose_config_name(workload: &str, path: &str) -> String {
    format!(
        "{workload}-{}",
        path.trim_start_matches('/').replace('/', "-")
    )
}

/// The name of the TLS secret for an ingress host: dots become `-`, `*` becomes `wildcard`.
/// Distinct hosts can share one (`a-b.example.com` and `a.b-example.com`), which `check`
/// rejects.
pub fn tls_secret_name(host: &str) -> String {
    format!("{}-tls", host.replace('.', "-").replace('*', "wildcard"))
}

/// Name of an environment's cloud resources: cluster, VPC, key alias.
pub fn cloud_name(platform: &str, env: &str) -> String {
    format!("{platform}-{env}")
}

/// Name of a managed data store's cloud resources (database identifier, replication group,
/// bucket).
pub fn cloud_store_name(platform: &str, env: &str, store: &str) -> String {
    format!("{platform}-{env}-{store}")
}

/// Bucket of the backups of in-cluster data store `store` (for PostgreSQL, also its WAL
/// archive).
pub fn backup_bucket(platform: &str, env: &str, store: &str) -> String {
    format!("{}-backups", cloud_store_name(platform, env, store))
}

/// Bucket receiving an environment's access logs, from its [`cloud_name`].
pub fn cloud_log_bucket(cloud_name: &str) -> String {
    format!("{cloud_name}-logs")
}

/// Ingress class when the spec names none: the Traefik controller plinth installs.
pub const INGRESS_CLASS: &str = "traefik";

/// Host ports of the tools the Compose output runs beside the platform, which the Compose
/// Grafana's port must not take: Traefik, Dozzle, Prometheus and Alertmanager.
pub const COMPOSE_TRAEFIK_PORT: u16 = 80;
/// Host port of Dozzle, the log viewer (reference 000: 8890).
pub const COMPOSE_LOG_VIEWER_PORT: u16 = 8890;
/// Host port of the Compose Prometheus.
pub const COMPOSE_PROMETHEUS_PORT: u16 = 9090;
/// Host port of the Compose Alertmanager.
pub const COMPOSE_ALERTMANAGER_PORT: u16 = 9093;

/// Namespace of the ingress controller when the spec names none.
pub const INGRESS_NAMESPACE: &str = "traefik";
/// Namespace of Envoy Gateway, where its controller runs and creates each `Gateway`'s Envoy
/// proxies (its default deploy mode), so the NetworkPolicies admit it to routed ports.
pub const ENVOY_GATEWAY_NAMESPACE: &str = "envoy-gateway-system";

/// Namespace of Prometheus when the spec names none.
pub const MONITORING_NAMESPACE: &str = "monitoring";

/// Namespace of the log stack (Loki and Alloy), as 000 installs it.
pub const LOGS_NAMESPACE: &str = "observability";

/// The name of the one environment of a spec that defines none.
pub const DEFAULT_ENVIRONMENT: &str = "default";

/// Root receiver of an Alertmanager configuration without a default receiver. plinth proves
/// that none of its own alerts ends here; alerts from other sources that match no route are
/// dropped.
pub const UNROUTED_RECEIVER: &str = "unrouted";

/// Receiver without integrations for the monitoring stack's own bookkeeping alerts (`Watchdog`,
/// `InfoInhibitor`), named as kube-prometheus-stack names its own.
pub const DISCARD_RECEIVER: &str = "null";

/// An SLO's window when the spec gives none: 30 days. Lowering applies it, and `check`
/// compares it with the metrics retention.
pub const SLO_WINDOW_MS: u64 = 30 * 86_400_000;

/// How long Alertmanager keeps its notification log and silences unless told: its own
/// default (120h), which kube-prometheus-stack also sets. `check` compares the repeat
/// interval with it (W016), lowering applies it.
pub const ALERTMANAGER_RETENTION_MS: u64 = 120 * 3_600_000;

/// The environment Docker Compose runs when no environment is marked `local`. The merge
/// (`spec::resolve`, which gives it no cloud of its own) and the Compose target share it.
pub const COMPOSE_ENVIRONMENT: &str = "dev";

/// The Terraform state bucket when the spec names none.
pub fn default_state_bucket(platform: &str) -> String {
    format!("{platform}-terraform-state")
}

/// The Terraform state key when the spec names none: one state per environment.
pub const DEFAULT_STATE_KEY: &str = "{env}/terraform.tfstate";

/// The state key of one environment: `{env}` replaced by its name.
pub fn state_key(template: &str, env: &str) -> String {
    template.replace("{env}", env)
}

/// Name of the Secret CloudNativePG creates for the application user of cluster `store`.
pub fn cnpg_app_secret(store: &str) -> String {
    format!("{store}-app")
}

/// The keys of that Secret at operator 1.30 (`pkg/specs/secrets.go`), sorted.
pub const CNPG_APP_SECRET_KEYS: &[&str] = &[
    "dbname",
    "fqdn-jdbc-uri",
    "fqdn-uri",
    "host",
    "jdbc-uri",
    "password",
    "pgpass",
    "port",
    "uri",
    "user",
    "username",
];

/// Name of a data store's backup CronJob, and the identity its pods are selected by.
pub fn backup_job(store: &str) -> String {
    format!("{store}-backup")
}

/// A percentage string (`"25%"`) or a non-negative integer, as Kubernetes IntOrString.
pub fn parse_int_or_percent(text: &str) -> Result<IntOrPercent, String> {
    let t = text.trim();
    if let Some(p) = t.strip_suffix('%') {
        return p
            .parse::<u32>()
            .ok()
            .filter(|v| *v <= 100)
            .map(IntOrPercent::Percent)
            .ok_or_else(|| format!("`{text}` is not a percentage from 0% to 100%"));
    }
    t.parse::<u32>()
        .map(IntOrPercent::Int)
        .map_err(|_| format!("`{text}` is not a whole number or a percentage like `25%`"))
}

/// An absolute count or a percentage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntOrPercent {
    /// A count.
    Int(u32),
    /// A percentage.
    Percent(u32),
}

/// The connection details a service may bind (`bind.VAR = { from, key }`) from an in-cluster
/// data store of `engine`, in the order the docs list them; empty for an engine plinth knows
/// no connection of. `read-uri` and `read-host` name the read replicas of a PostgreSQL store,
/// or its primary where no replica runs (Compose, a cluster without the operator, or
/// `read_replicas = 0`), so a client that reads from replicas works everywhere.
pub fn binding_keys(engine: &str) -> &'static [&'static str] {
    match engine {
        "postgres" => &[
            "uri",
            "host",
            "port",
            "database",
            "user",
            "password",
            "read-uri",
            "read-host",
        ],
        "redis" => &["uri", "host", "port", "password"],
        "qdrant" => &["uri", "host", "port", "api-key"],
        "object-storage" => &["endpoint", "access-key", "secret-key"],
        _ => &[],
    }
}

/// The variable that gives Qdrant its API key, which its clients send.
pub const QDRANT_API_KEY_VARIABLE: &str = "QDRANT__SERVICE__API_KEY";

/// The connection details a service may bind from a managed (cloud) store of `engine`: those
/// Terraform writes into the secrets `<store>-connection` (endpoints) and `<store>-password`
/// (RDS's master password, which Terraform generates when a service binds it). A managed
/// PostgreSQL store offers everything an in-cluster one does; ElastiCache's auth token is the
/// spec's own secret, which Terraform already reads, so a managed Redis offers everything
/// too. A bucket has no keys: its clients get an IAM role.
pub fn managed_binding_keys(engine: &str) -> &'static [&'static str] {
    match engine {
        "postgres" | "redis" => binding_keys(engine),
        "object-storage" => &["endpoint", "bucket", "region"],
        _ => &[],
    }
}

/// Whether the cloud runs stores of `engine` as a managed service: PostgreSQL (RDS), Redis
/// (ElastiCache) and object storage (S3), the engines with an AWS lowering.
pub fn has_managed_offering(engine: &str) -> bool {
    matches!(engine, "postgres" | "redis" | "object-storage")
}

/// Name of the IAM role through which `service` reaches the managed buckets it binds, in the
/// environment whose cluster is `cluster` (`<platform>-<env>`).
pub fn bucket_role(cluster: &str, service: &str) -> String {
    format!("{cluster}-{service}-s3")
}

/// Name of the Secret (and of its cloud secret, `<platform>/<env>/<name>`) that Terraform
/// writes with a managed store's connection details.
pub fn store_connection_secret(store: &str) -> String {
    format!("{store}-connection")
}

/// Name of the Secret (and of its cloud secret, `<platform>/<env>/<name>`) holding the
/// master password Terraform generates for a managed PostgreSQL store, under key `password`.
pub fn managed_password_secret(store: &str) -> String {
    format!("{store}-password")
}

/// PostgreSQL parameters that CloudNativePG sets itself and refuses in a `Cluster`'s
/// `postgresql.parameters` (operator 1.30, `FixedConfigurationParameters` in
/// `pkg/postgres/configuration.go`), and `rds.force_ssl`, which keeps plinth's RDS instances
/// TLS-only; sorted. plinth wires the same settings (port, addresses, files, TLS, archiving,
/// replication) for a StatefulSet and an RDS instance, so they are refused in every mode.
pub const FIXED_POSTGRES_PARAMETERS: &[&str] = &[
    "allow_system_table_mods",
    "archive_cleanup_command",
    "archive_command",
    "archive_mode",
    "bonjour",
    "bonjour_name",
    "cluster_name",
    "config_file",
    "data_directory",
    "data_sync_retry",
    "event_source",
    "external_pid_file",
    "hba_file",
    "hot_standby",
    "ident_file",
    "jit_provider",
    "listen_addresses",
    "log_destination",
    "log_directory",
    "log_file_mode",
    "log_filename",
    "log_rotation_age",
    "log_rotation_size",
    "log_truncate_on_rotation",
    "logging_collector",
    "pg_failover_slots.primary_dsn",
    "pg_failover_slots.standby_slot_names",
    "port",
    "primary_conninfo",
    "primary_slot_name",
    "promote_trigger_file",
    "rds.force_ssl",
    "recovery_end_command",
    "recovery_min_apply_delay",
    "recovery_target",
    "recovery_target_action",
    "recovery_target_inclusive",
    "recovery_target_lsn",
    "recovery_target_name",
    "recovery_target_time",
    "recovery_target_timeline",
    "recovery_target_xid",
    "restart_after_crash",
    "restore_command",
    "shared_preload_libraries",
    "ssl",
    "ssl_ca_file",
    "ssl_cert_file",
    "ssl_crl_file",
    "ssl_dh_params_file",
    "ssl_key_file",
    "ssl_passphrase_command",
    "ssl_passphrase_command_supports_reload",
    "ssl_prefer_server_ciphers",
    "stats_temp_directory",
    "synchronized_standby_slots",
    "synchronous_standby_names",
    "syslog_facility",
    "syslog_ident",
    "syslog_sequence_numbers",
    "syslog_split_messages",
    "temp_tablespaces",
    "unix_socket_directories",
    "unix_socket_group",
    "unix_socket_permissions",
];

/// Whether `name` is a PostgreSQL parameter name: a GUC name (a letter or `_`, then letters,
/// digits and `_`), optionally with one namespace before a dot (`pg_stat_statements.max`),
/// as the operator's webhook accepts. Names are case-insensitive in PostgreSQL; plinth asks
/// for lowercase so that one parameter has one spelling.
pub fn is_postgres_parameter(name: &str) -> bool {
    let part = |p: &str| {
        p.bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
            && p.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    };
    match name.split_once('.') {
        Some((ns, rest)) => part(ns) && part(rest),
        None => part(name),
    }
}

/// The placeholders an environment variable's value may use, with what each stands for.
pub const ENV_PLACEHOLDERS: &[&str] = &["env", "namespace", "domain", "platform"];

/// The `{name}` placeholders of an environment variable's value, with their byte ranges.
///
/// A placeholder is `{` lowercase letters or `_` `}`, not part of `{{…}}`: values often hold
/// JSON (`{"a": 1}`) or a template of the application's own (`Hello {{name}}`), which stay
/// text.
pub fn env_placeholders(text: &str) -> Vec<(std::ops::Range<usize>, &str)> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while let Some(off) = text[i..].find('{') {
        let start = i + off;
        let Some(len) = text[start + 1..].find('}') else {
            break;
        };
        let end = start + 1 + len;
        let inner = &text[start + 1..end];
        let doubled = (start > 0 && bytes[start - 1] == b'{') || bytes.get(end + 1) == Some(&b'}');
        if !inner.is_empty()
            && !doubled
            && inner.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        {
            found.push((start..end + 1, inner));
            i = end + 1;
        } else {
            i = start + 1;
        }
    }
    found
}

/// The `{store.key}`-shaped references in an environment variable's value: a dotted path of
/// lowercase names, digits, `-` and `_` between single braces, not after `$` (a shell's
/// `${VAR}`). They look like a data store's connection detail, which a value cannot read
/// (bindings do), so the checker refuses them rather than let them reach the application as
/// text.
pub fn dotted_placeholders(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while let Some(off) = text[i..].find('{') {
        let start = i + off;
        i = start + 1;
        let Some(len) = text[start + 1..].find('}') else {
            break;
        };
        let end = start + 1 + len;
        let inner = &text[start + 1..end];
        let doubled = (start > 0 && matches!(bytes[start - 1], b'{' | b'$'))
            || bytes.get(end + 1) == Some(&b'}');
        let path = inner.contains('.')
            && inner.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
            && inner.split('.').all(|p| {
                !p.is_empty()
                    && p.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'
                    })
            });
        if path && !doubled {
            found.push(inner);
            i = end + 1;
        }
    }
    found
}

/// `text` with each known placeholder replaced by `value(name)`; unknown ones are kept (the
/// checker rejects them before lowering).
pub fn substitute_env(text: &str, value: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (range, name) in env_placeholders(text) {
        if let Some(v) = value(name) {
            out.push_str(&text[at..range.start]);
            out.push_str(&v);
            at = range.end;
        }
    }
    out.push_str(&text[at..]);
    out
}

/// A replica count scaled by an environment's `replica_scale`, rounding up and never below
/// one (zero stays zero): the lowering's rule, which `check` predicts with it.
pub fn scale_count(n: u32, f: f64) -> u32 {
    if n == 0 {
        return 0;
    }
    ((n as f64 * f).ceil() as u32).max(1)
}

/// Alert name of a threshold: one name for both levels, told apart by `severity`, so that the
/// critical alert can inhibit the warning one. Here rather than in `ir::naming` because
/// `check` predicts it to find two thresholds that would raise one alert.
pub fn threshold_alert(threshold: &str) -> String {
    let stem = match threshold {
        "cpu" => "CPUUsage".to_owned(),
        "memory" => "MemoryUsage".to_owned(),
        "error_rate" => "ErrorRate".to_owned(),
        "latency_p95" => "LatencyP95".to_owned(),
        "disk" => "DiskUsage".to_owned(),
        "db_connections" => "DBConnections".to_owned(),
        "replication_lag" => "ReplicationLag".to_owned(),
        "redis_memory" => "RedisMemory".to_owned(),
        other => upper_camel(other),
    };
    format!("{stem}High")
}

/// Recorded series holding a custom threshold's value per workload.
pub fn threshold_record(threshold: &str) -> String {
    format!("plinth:threshold_{}:value", metric_safe(threshold))
}

/// Whether `name` may name a threshold: an ASCII letter, then letters, digits, `_` and `-`.
/// The name becomes part of an alert name and of a recorded series' name, and a label value
/// of alerts that annotations may quote, so nothing else is let through.
pub fn is_threshold_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// `payment_failures` → `PaymentFailures`: the UpperCamelCase form of a snake or kebab name.
fn upper_camel(name: &str) -> String {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut cs = p.chars();
            cs.next()
                .map(|c| c.to_ascii_uppercase().to_string() + cs.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// `payment-failures` → `payment_failures`: a name usable inside a metric name.
fn metric_safe(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

#[cfg(test)]
mod tests {

    #[test]
    fn suggestions_correct_prose_values() {
        assert_eq!(super::suggest_cpu("2 cores").as_deref(), Some("2"));
        assert_eq!(
            super::suggest_cpu("500 millicores").as_deref(),
            Some("500m")
        );
        assert_eq!(super::suggest_bytes("1GB").as_deref(), Some("1Gi"));
        assert_eq!(super::suggest_bytes("512 MiB").as_deref(), Some("512Mi"));
        assert_eq!(super::suggest_duration("500 ms").as_deref(), Some("500ms"));
        assert_eq!(super::suggest_duration("5 minutes").as_deref(), Some("5m"));
        assert_eq!(super::suggest_number("90%").as_deref(), Some("90"));
        assert_eq!(
            super::dns_label_form("Api_Gateway").as_deref(),
            Some("api-gateway")
        );
        assert_eq!(super::suggest_bytes("lots"), None);
        assert_eq!(super::dns_label_form("api"), None);
    }

    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(parse_cpu("250m"), Ok(250));
        assert_eq!(parse_cpu("2"), Ok(2000));
        assert_eq!(parse_cpu("0.5"), Ok(500));
        assert!(parse_cpu("2 cores").is_err());
        assert_eq!(parse_bytes("512Mi"), Ok(512 << 20));
        assert!(parse_bytes("256Mib")
            .unwrap_err()
            .contains("did you mean `256Mi`"));
        assert_eq!(format_bytes(1 << 29), "512Mi");
        assert_eq!(parse_bytes("0.5Gi"), Ok(512 << 20));
        assert!(parse_bytes("0.3").is_err());
        assert_eq!(format_cpu(250), "250m");
        assert_eq!(format_cpu(2000), "2");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration("500ms"), Ok(500));
        assert!(parse_duration("5 minutes").is_err());
        assert!(parse_duration("10").is_err());
        assert_eq!(format_duration(90_000), "90s");
        assert_eq!(format_duration(300_000), "5m");
        assert_eq!(format_go_duration(10 * 86_400_000), "240h");
        assert_eq!(format_go_duration(5_400_000), "90m");
        assert_eq!(format_go_duration(1_500), "1500ms");
    }

    #[test]
    fn cron() {
        assert!(check_cron("0 2 * * *").is_ok());
        assert!(check_cron("*/15 9-17 * * mon-fri").is_ok());
        assert!(check_cron("@daily").is_ok());
        assert!(check_cron("0 25 * * *").is_err());
        assert!(check_cron("0 2 * *").is_err());
    }

    #[test]
    fn images() {
        let i = parse_image("ghcr.io/acme/api:1.2.3").unwrap();
        assert_eq!(i.repository, "ghcr.io/acme/api");
        assert_eq!(i.tag.as_deref(), Some("1.2.3"));
        let p = parse_image("localhost:5000/api").unwrap();
        assert_eq!(p.repository, "localhost:5000/api");
        assert_eq!(p.tag, None);
        assert!(parse_image("acme/api@sha256:abc").is_err());
        assert!(parse_image("Acme/api:1").is_err());
    }

    #[test]
    fn names() {
        assert!(is_dns_label("api-gateway"));
        assert!(!is_dns_label("Api"));
        assert!(!is_dns_label("api_gateway"));
        assert!(is_port_name("http"));
        assert!(!is_port_name("8080"));
    }

    #[test]
    fn emails_as_acme_accepts_them() {
        use super::is_email;
        for ok in ["ops@example.com", "first.last+certs@Mail.Example.co.uk"] {
            assert!(is_email(ok), "{ok}");
        }
        for bad in [
            "@devops",
            "devops",
            "ops@localhost",
            "ops at example.com",
            "ops@@example.com",
            "ops@exa mple.com",
            "ops@-example.com",
            "<ops>@example.com",
            "",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
    }

    #[test]
    fn env_placeholders_leave_json_and_templates_alone() {
        let text = r#"{env}-x {"a": 1} {{name}} {{ x }} {Env} {namespace}"#;
        let names: Vec<&str> = super::env_placeholders(text)
            .into_iter()
            .map(|(_, n)| n)
            .collect();
        assert_eq!(names, ["env", "namespace"]);
        let out = super::substitute_env(text, |n| (n == "env").then(|| "dev".to_owned()));
        assert_eq!(out, r#"dev-x {"a": 1} {{name}} {{ x }} {Env} {namespace}"#);
    }
}
