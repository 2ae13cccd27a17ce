//! Kestrel node agent: the eBPF probe's events, process/fd/container state, Falco rules, alerts.
//! The binary (`main.rs`) only wires these together.

pub mod alert;
pub mod capture;
pub mod capture_cmd;
pub mod casetest;
pub mod cli;
pub mod decode;
pub mod error_chain;
pub mod event;
pub mod k8s;
pub mod metrics;
pub mod pipeline;
pub mod replay;
pub mod rules;
pub mod run;
pub mod state;
pub mod validate;
pub mod wanted;
