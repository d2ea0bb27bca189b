//! tigk alerter: TICKscript stream and batch tasks with Kapacitor semantics.
