#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| tigk_fuzz::chunk_decode(data));
