pub mod admin;
pub mod serve;
pub mod task;
pub mod up;
