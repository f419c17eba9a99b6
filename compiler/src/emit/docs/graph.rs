//! The platform as a graph: workloads and data stores, the dependency edges between them with
//! the ports they use, the ingress hosts in front of them, and the receivers each alert
//! family reaches. `plinth graph` prints it; the docs target draws it in `docs/<env>.md`.
//!
//! Node identifiers are positional (`n0`, `n1`, …, in a fixed order), never names from the
//! spec, and every label is escaped for the output language, so no spec text becomes syntax
//! in Mermaid or DOT.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::emit::alertmanager;
use crate::emit::Shared;
use crate::ir::{self, naming, Environment, Kind, Role};

/// One environment's platform graph.
#[derive(Debug, Serialize)]
pub struct Graph {
    /// Environment name.
    pub environment: String,
    /// Nodes in drawing order: hosts, workloads, managed stores, alert families, receivers.
    pub nodes: Vec<Node>,
    /// Edges in drawing order.
    pub edges: Vec<Edge>,
}

/// A node of the graph.
#[derive(Debug, Serialize)]
pub struct Node {
    /// Positional identifier, `n<index>`.
    pub id: String,
    /// What it is called in the spec (a host name for ingress hosts).
    pub name: String,
    /// What kind of thing it is.
    pub kind: NodeKind,
    /// A short description: the engine, the workload kind, the receiver type.
    pub detail: String,
}

/// Kinds of nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeKind {
    /// A public host name served by the ingress controller.
    Host,
    /// An application service (web, worker, stateful, cron job or job).
    Service,
    /// A data store run in the cluster.
    Datastore,
    /// A data store run by the cloud provider.
    ManagedDatastore,
    /// The alerts of one name.
    AlertFamily,
    /// An Alertmanager receiver.
    Receiver,
}

/// An edge of the graph.
#[derive(Debug, Serialize)]
pub struct Edge {
    /// Source node id.
    pub from: String,
    /// Target node id.
    pub to: String,
    /// What the edge means.
    pub kind: EdgeKind,
    /// Ports (dependencies), path and port (routes); empty for alert edges.
    pub label: String,
}

/// Kinds of edges.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EdgeKind {
    /// A host routes a path to a workload's port.
    Route,
    /// A workload depends on another (and may connect to its ports).
    DependsOn,
    /// Alerts of a family are sent to a receiver.
    Notifies,
}

/// Builds the graph of `env`. The alert families and their receivers come from the same
/// catalogue and routing the Prometheus and Alertmanager targets use.
pub fn build(shared: &Shared, env: &Environment) -> Graph {
    let mut g = Builder::default();
    let mut hosts: BTreeMap<&str, Vec<&ir::Workload>> = BTreeMap::new();
    for w in &env.workloads {
        if let Some(i) = &w.ingress {
            hosts.entry(i.host.as_str()).or_default().push(w);
        }
    }
    for host in hosts.keys() {
        g.node(NodeKind::Host, host, "ingress host".to_owned());
    }
    for w in &env.workloads {
        let (kind, detail) = match &w.role {
            Role::Service => (NodeKind::Service, kind_name(w.kind).to_owned()),
            Role::DataStore(s) => (NodeKind::Datastore, format!("{} {}", s.engine, s.version)),
        };
        g.node(kind, &w.name, detail);
    }
    for st in &env.managed_stores {
        g.node(
            NodeKind::ManagedDatastore,
            &st.name,
            format!("{} {}, managed", st.engine, st.version),
        );
    }
    for (host, ws) in &hosts {
        for w in ws {
            if let Some(i) = &w.ingress {
                let label = format!("{} → {}", i.path, i.port.port);
                g.edge(
                    NodeKind::Host,
                    host,
                    workload_kind(w),
                    &w.name,
                    EdgeKind::Route,
                    label,
                );
            }
        }
    }
    let ports: BTreeMap<&str, (NodeKind, Vec<u16>)> = env
        .workloads
        .iter()
        .map(|w| {
            (
                w.name.as_str(),
                (workload_kind(w), w.ports.iter().map(|p| p.port).collect()),
            )
        })
        .chain(env.managed_stores.iter().map(|s| {
            (
                s.name.as_str(),
                (
                    NodeKind::ManagedDatastore,
                    s.ports.iter().map(|p| p.port).collect(),
                ),
            )
        }))
        .collect();
    for w in &env.workloads {
        for dep in &w.depends_on {
            let Some((kind, nums)) = ports.get(dep.as_str()) else {
                continue;
            };
            let label = nums
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            g.edge(
                workload_kind(w),
                &w.name,
                *kind,
                dep,
                EdgeKind::DependsOn,
                label,
            );
        }
    }
    alerts(shared, env, &mut g);
    Graph {
        environment: env.name.clone(),
        nodes: g.nodes,
        edges: g.edges,
    }
}

/// Alert families (alerts of one name) and the receivers Alertmanager sends them to.
fn alerts(shared: &Shared, env: &Environment, g: &mut Builder) {
    let a = &env.alerting;
    if a.receivers.is_empty() {
        return;
    }
    let root = a
        .default_receiver
        .clone()
        .unwrap_or_else(|| naming::UNROUTED_RECEIVER.to_owned());
    let mut families: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for alert in shared.rules(env).catalogue.alerts() {
        let receivers = alertmanager::route(a, &root, &alert.routing_labels());
        families
            .entry(alert.name.clone())
            .or_default()
            .extend(receivers);
    }
    for family in families.keys() {
        g.node(NodeKind::AlertFamily, family, "alert".to_owned());
    }
    for r in &a.receivers {
        g.node(
            NodeKind::Receiver,
            &r.name,
            receiver_type(&r.kind).to_owned(),
        );
    }
    for (family, receivers) in &families {
        for r in receivers {
            g.edge(
                NodeKind::AlertFamily,
                family,
                NodeKind::Receiver,
                r,
                EdgeKind::Notifies,
                String::new(),
            );
        }
    }
}

/// The node kind of a workload.
fn workload_kind(w: &ir::Workload) -> NodeKind {
    match w.role {
        Role::Service => NodeKind::Service,
        Role::DataStore(_) => NodeKind::Datastore,
    }
}

/// The workload kind as the spec writes it.
pub(crate) fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Web => "web",
        Kind::Worker => "worker",
        Kind::Stateful => "stateful",
        Kind::Cron => "cron job",
        Kind::Job => "job",
    }
}

/// The receiver type as the spec writes it.
fn receiver_type(k: &ir::ReceiverKind) -> &'static str {
    match k {
        ir::ReceiverKind::Pagerduty { .. } => "pagerduty",
        ir::ReceiverKind::Slack { .. } => "slack",
        ir::ReceiverKind::Email { .. } => "email",
        ir::ReceiverKind::Webhook { .. } => "webhook",
    }
}

/// Collects nodes and edges, giving each node its positional id.
#[derive(Default)]
struct Builder {
    nodes: Vec<Node>,
    edges: Vec<Edge>,
    ids: BTreeMap<(u8, String), String>,
}

impl Builder {
    fn node(&mut self, kind: NodeKind, name: &str, detail: String) {
        let id = format!("n{}", self.nodes.len());
        self.ids.insert((kind as u8, name.to_owned()), id.clone());
        self.nodes.push(Node {
            id,
            name: name.to_owned(),
            kind,
            detail,
        });
    }

    /// An edge between two nodes added before; an unknown end (which `check` prevents) is
    /// left out rather than drawn to nowhere.
    fn edge(
        &mut self,
        from_kind: NodeKind,
        from: &str,
        to_kind: NodeKind,
        to: &str,
        kind: EdgeKind,
        label: String,
    ) {
        let (Some(from), Some(to)) = (
            self.ids.get(&(from_kind as u8, from.to_owned())),
            self.ids.get(&(to_kind as u8, to.to_owned())),
        ) else {
            return;
        };
        self.edges.push(Edge {
            from: from.clone(),
            to: to.clone(),
            kind,
            label,
        });
    }
}

/// Subgraphs of the drawing, in order, with the node kinds they hold.
const GROUPS: &[(&str, &str, &[NodeKind])] = &[
    ("g_hosts", "Ingress", &[NodeKind::Host]),
    ("g_workloads", "Workloads", &[NodeKind::Service]),
    (
        "g_data",
        "Data stores",
        &[NodeKind::Datastore, NodeKind::ManagedDatastore],
    ),
    ("g_alerts", "Alerts", &[NodeKind::AlertFamily]),
    ("g_receivers", "Receivers", &[NodeKind::Receiver]),
];

impl Graph {
    /// The graph as a Mermaid flowchart, left to right, one subgraph per kind of node.
    pub fn mermaid(&self) -> String {
        let mut out = String::from("flowchart LR\n");
        for (id, title, kinds) in GROUPS {
            let nodes: Vec<&Node> = self
                .nodes
                .iter()
                .filter(|n| kinds.contains(&n.kind))
                .collect();
            if nodes.is_empty() {
                continue;
            }
            out.push_str(&format!("  subgraph {id}[\"{title}\"]\n"));
            for n in nodes {
                let label = mermaid_text(&format!("{}<br/>{}", n.name, n.detail));
                let shape = match n.kind {
                    NodeKind::Datastore | NodeKind::ManagedDatastore => ("[(\"", "\")]"),
                    NodeKind::Host => ("([\"", "\"])"),
                    NodeKind::AlertFamily => ("{{\"", "\"}}"),
                    NodeKind::Receiver => (">\"", "\"]"),
                    NodeKind::Service => ("[\"", "\"]"),
                };
                out.push_str(&format!("    {}{}{label}{}\n", n.id, shape.0, shape.1));
            }
            out.push_str("  end\n");
        }
        for e in &self.edges {
            let arrow = match e.kind {
                EdgeKind::Route | EdgeKind::DependsOn => "-->",
                EdgeKind::Notifies => "-.->",
            };
            if e.label.is_empty() {
                out.push_str(&format!("  {} {arrow} {}\n", e.from, e.to));
            } else {
                out.push_str(&format!(
                    "  {} {arrow}|\"{}\"| {}\n",
                    e.from,
                    mermaid_text(&e.label),
                    e.to
                ));
            }
        }
        out
    }

    /// The graph in Graphviz DOT, one cluster per kind of node.
    pub fn dot(&self) -> String {
        let mut out = format!(
            "digraph {} {{\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n",
            dot_string(&self.environment)
        );
        for (id, title, kinds) in GROUPS {
            let nodes: Vec<&Node> = self
                .nodes
                .iter()
                .filter(|n| kinds.contains(&n.kind))
                .collect();
            if nodes.is_empty() {
                continue;
            }
            out.push_str(&format!(
                "  subgraph cluster_{} {{\n    label={};\n",
                id.trim_start_matches("g_"),
                dot_string(title)
            ));
            for n in nodes {
                let shape = match n.kind {
                    NodeKind::Datastore | NodeKind::ManagedDatastore => "cylinder",
                    NodeKind::Host => "oval",
                    NodeKind::AlertFamily => "hexagon",
                    NodeKind::Receiver => "cds",
                    NodeKind::Service => "box",
                };
                out.push_str(&format!(
                    "    {} [label={}, shape={shape}];\n",
                    n.id,
                    dot_string(&format!("{}\n{}", n.name, n.detail))
                ));
            }
            out.push_str("  }\n");
        }
        for e in &self.edges {
            let style = match e.kind {
                EdgeKind::Notifies => ", style=dashed",
                EdgeKind::Route | EdgeKind::DependsOn => "",
            };
            out.push_str(&format!(
                "  {} -> {} [label={}{style}];\n",
                e.from,
                e.to,
                dot_string(&e.label)
            ));
        }
        out.push_str("}\n");
        out
    }
}

/// Text inside a quoted Mermaid label: every character but letters, digits, space and
/// `.,:/_-→` is written as an entity code (`#35;`), so quotes, brackets, pipes and
/// backticks from the spec cannot end the label or the fenced block around it. The one
/// markup plinth itself adds, `<br/>`, is kept.
fn mermaid_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, part) in s.split("<br/>").enumerate() {
        if i > 0 {
            out.push_str("<br/>");
        }
        for c in part.chars() {
            if c.is_ascii_alphanumeric() || " .,:/_-→".contains(c) {
                out.push(c);
            } else {
                out.push_str(&format!("#{};", u32::from(c)));
            }
        }
    }
    out
}

/// A DOT quoted string.
fn dot_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mermaid_labels_cannot_close_their_quotes_or_the_fence() {
        let t = mermaid_text("a\"]-->x|`|```<script>");
        assert!(!t.contains(['"', ']', '|', '`', '<', '>']), "{t}");
        assert_eq!(mermaid_text("web<br/>worker"), "web<br/>worker");
    }

    #[test]
    fn dot_strings_escape_quotes_and_backslashes() {
        assert_eq!(dot_string("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
    }
}
