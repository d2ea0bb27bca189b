pub mod admin;
pub mod backup;
pub mod config;
pub mod serve;
pub mod task;
pub mod up;
