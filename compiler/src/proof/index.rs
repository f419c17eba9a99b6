//! Label indexes over one environment's objects, built once, so that resolving a selector
//! costs what it selects rather than a scan of every pod: scanning made the proof quadratic
//! in the number of workloads, and at 1,000 services slower than the build it proves.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{selects, string_map, template_labels, Object};

/// A pod template of the output: the object that holds it, the template and its labels.
pub(crate) struct Pod<'a> {
    pub object: &'a Object,
    pub template: &'a Value,
    pub labels: BTreeMap<String, String>,
}

/// Objects by `(namespace, label key, label value)` and by namespace.
#[derive(Default)]
struct Labels {
    by_label: BTreeMap<(String, String, String), Vec<usize>>,
    by_namespace: BTreeMap<String, Vec<usize>>,
}

impl Labels {
    fn add(&mut self, i: usize, namespace: &str, labels: &BTreeMap<String, String>) {
        for (k, v) in labels {
            let key = (namespace.to_owned(), k.clone(), v.clone());
            self.by_label.entry(key).or_default().push(i);
        }
        self.by_namespace
            .entry(namespace.to_owned())
            .or_default()
            .push(i);
    }

    /// The candidates for a selector whose `matchLabels` are `required`: those with its
    /// first label, or everything in the namespace when it has none.
    fn candidates(&self, namespace: &str, required: &BTreeMap<String, String>) -> &[usize] {
        let list = match required.iter().next() {
            Some((k, v)) => self
                .by_label
                .get(&(namespace.to_owned(), k.clone(), v.clone())),
            None => self.by_namespace.get(namespace),
        };
        list.map_or(&[], Vec::as_slice)
    }
}

/// The pod templates and Services of one environment's objects, indexed by label.
pub(crate) struct Index<'a> {
    /// Every pod template.
    pub pods: Vec<Pod<'a>>,
    /// Every Service, with its own labels.
    pub services: Vec<(&'a Object, BTreeMap<String, String>)>,
    /// Every Service by namespace and name, for the routes and Ingresses that name one.
    services_by_name: BTreeMap<(&'a str, &'a str), &'a Object>,
    pod_labels: Labels,
    service_labels: Labels,
}

impl<'a> Index<'a> {
    /// Indexes `objects`.
    pub fn new(objects: &'a [Object]) -> Self {
        let mut index = Index {
            pods: Vec::new(),
            services: Vec::new(),
            services_by_name: BTreeMap::new(),
            pod_labels: Labels::default(),
            service_labels: Labels::default(),
        };
        for o in objects {
            if let Some(template) = o.pod_template() {
                let labels = template_labels(template);
                index
                    .pod_labels
                    .add(index.pods.len(), &o.namespace, &labels);
                index.pods.push(Pod {
                    object: o,
                    template,
                    labels,
                });
            }
            if o.kind == "Service" {
                let labels = string_map(o.doc.pointer("/metadata/labels"));
                index
                    .service_labels
                    .add(index.services.len(), &o.namespace, &labels);
                index.services.push((o, labels));
                index
                    .services_by_name
                    .insert((o.namespace.as_str(), o.name.as_str()), o);
            }
        }
        index
    }

    /// The Service `name` in `namespace`, when the output creates it.
    pub fn service(&self, namespace: &str, name: &str) -> Option<&'a Object> {
        self.services_by_name.get(&(namespace, name)).copied()
    }

    /// The pods of `namespace` that a label selector (`matchLabels`, `matchExpressions`)
    /// selects; all of the namespace's for no selector.
    pub fn pods_selected(&self, namespace: &str, selector: Option<&Value>) -> Vec<usize> {
        let required = string_map(selector.and_then(|s| s.get("matchLabels")));
        self.pod_labels
            .candidates(namespace, &required)
            .iter()
            .copied()
            .filter(|&i| selects(selector, &self.pods[i].labels))
            .collect()
    }

    /// The pods of `namespace` a Service's plain selector map selects; none for an empty map,
    /// which Kubernetes reads as "endpoints managed elsewhere".
    pub fn pods_matching(
        &self,
        namespace: &str,
        selector: &BTreeMap<String, String>,
    ) -> Vec<usize> {
        if selector.is_empty() {
            return Vec::new();
        }
        self.pod_labels
            .candidates(namespace, selector)
            .iter()
            .copied()
            .filter(|&i| {
                let labels = &self.pods[i].labels;
                selector.iter().all(|(k, v)| labels.get(k) == Some(v))
            })
            .collect()
    }

    /// The Services of `namespace` whose labels a label selector selects.
    pub fn services_selected(&self, namespace: &str, selector: Option<&Value>) -> Vec<usize> {
        let required = string_map(selector.and_then(|s| s.get("matchLabels")));
        self.service_labels
            .candidates(namespace, &required)
            .iter()
            .copied()
            .filter(|&i| selects(selector, &self.services[i].1))
            .collect()
    }

    /// Every namespace that holds a pod or a Service.
    pub fn namespaces(&self) -> impl Iterator<Item = &str> {
        let mut all: Vec<&str> = self
            .pod_labels
            .by_namespace
            .keys()
            .chain(self.service_labels.by_namespace.keys())
            .map(String::as_str)
            .collect();
        all.sort_unstable();
        all.dedup();
        all.into_iter()
    }
}
