//! tigk agent library.
