//! pco (pcodec) sections, using pco's wrapped format so that the chunk header we
//! already write carries the count instead of pco's standalone framing.

use pco::data_types::Number;
use pco::wrapped::{FileCompressor, FileDecompressor};
use pco::{ChunkConfig, DeltaSpec, PagingSpec};

use super::CodecError;

/// Page size used on both sides. Fixed here rather than taken from
/// `pco::DEFAULT_MAX_PAGE_N` because the decoder must recompute the page split
/// from the count alone; a change in pco's default would otherwise break old blobs.
const MAX_PAGE_N: usize = 1 << 18;

fn paging() -> PagingSpec {
    PagingSpec::EqualPagesUpTo(MAX_PAGE_N)
}

/// Compresses `src` (non-empty) and appends pco's 2-byte format header, the
/// chunk metadata and the pages to `out`.
pub(crate) fn encode<T: Number>(
    src: &[T],
    level: usize,
    delta: DeltaSpec,
    out: &mut Vec<u8>,
) -> Result<(), CodecError> {
    let config = ChunkConfig::default()
        .with_compression_level(level)
        .with_delta_spec(delta)
        .with_paging_spec(paging());
    let fc = FileCompressor::default();
    fc.write_header(&mut *out)?;
    let mut cc = fc.chunk_compressor(src, &config)?;
    cc.write_meta(&mut *out)?;
    for page in 0..cc.n_per_page().len() {
        cc.write_page(page, &mut *out)?;
    }
    Ok(())
}

/// Decodes exactly `n` numbers from a section written by [`encode`]; the section
/// must be consumed entirely, so a mismatched count is caught here.
pub(crate) fn decode<T: Number + Copy + Default>(
    src: &[u8],
    n: usize,
) -> Result<Vec<T>, CodecError> {
    let (fd, rest) = FileDecompressor::new(src)?;
    let (mut cd, mut rest) = fd.chunk_decompressor::<T, _>(rest)?;
    let mut out = vec![T::default(); n];
    let mut done = 0usize;
    for page_n in paging().n_per_page(n)? {
        let mut pd = cd.page_decompressor(rest, page_n)?;
        let dst = out
            .get_mut(done..done + page_n)
            .ok_or(CodecError::Corrupt("pco page split exceeds count"))?;
        let progress = pd.read(dst)?;
        if progress.n_processed != page_n || !progress.finished {
            return Err(CodecError::Corrupt("pco page shorter than its count"));
        }
        rest = pd.into_src();
        done += page_n;
    }
    if !rest.is_empty() {
        return Err(CodecError::Corrupt("trailing bytes after pco section"));
    }
    Ok(out)
}
