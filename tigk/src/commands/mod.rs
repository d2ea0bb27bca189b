pub mod admin;
pub mod serve;
pub mod up;
