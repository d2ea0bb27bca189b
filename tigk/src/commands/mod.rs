pub mod admin;
pub mod backup;
pub mod config;
pub mod monitor;
pub mod serve;
pub mod tls;
pub mod task;
pub mod up;
