//! InfluxQL: lexer, parser and AST.
