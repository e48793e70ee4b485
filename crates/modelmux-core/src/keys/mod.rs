//! Virtual keys, budgets and rate limits: keys hashed at rest, each with a team, allowed
//! routes and models, RPM/TPM limits and budgets; enforcement in process or shared through
//! Redis across instances.

pub mod config;
