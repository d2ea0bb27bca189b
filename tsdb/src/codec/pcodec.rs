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

/// Numbers per page of the paged layout ([`encode_paged`]): small enough that a query
/// over part of a day-long chunk decodes little more than it needs, large enough that
/// the per-page cost (pco's ANS states and bit alignment, plus a length varint) stays
/// near 0.01 bytes/value.
pub(crate) const PAGE_N: usize = 1024;

fn small_paging() -> PagingSpec {
    PagingSpec::EqualPagesUpTo(PAGE_N)
}

/// The paged layout: pco's format header and chunk metadata, the byte length of every
/// page but the last (LEB128), then the pages. The page split is recomputed from the
/// count ([`PAGE_N`]), and the lengths let [`decode_range`] skip pages it does not need.
pub(crate) fn encode_paged<T: Number>(
    src: &[T],
    level: usize,
    delta: DeltaSpec,
    out: &mut Vec<u8>,
) -> Result<(), CodecError> {
    let config = ChunkConfig::default()
        .with_compression_level(level)
        .with_delta_spec(delta)
        .with_paging_spec(small_paging());
    let fc = FileCompressor::default();
    fc.write_header(&mut *out)?;
    let mut cc = fc.chunk_compressor(src, &config)?;
    cc.write_meta(&mut *out)?;
    let n_pages = cc.n_per_page().len();
    let mut pages = Vec::with_capacity(src.len() * 8);
    for page in 0..n_pages {
        let before = pages.len();
        cc.write_page(page, &mut pages)?;
        if page + 1 < n_pages {
            super::varint::put_uvarint(out, (pages.len() - before) as u64);
        }
    }
    out.extend_from_slice(&pages);
    Ok(())
}

/// Decodes the numbers at indexes `lo..hi` of a paged section of `n` numbers into `out`
/// (replacing its contents, keeping its allocation). Only the pages overlapping the range
/// are decoded; every page length is still checked against the section.
pub(crate) fn decode_range<T: Number + Copy + Default>(
    src: &[u8],
    n: usize,
    lo: usize,
    hi: usize,
    out: &mut Vec<T>,
) -> Result<(), CodecError> {
    out.clear();
    let (fd, rest) = FileDecompressor::new(src)?;
    let (mut cd, rest) = fd.chunk_decompressor::<T, _>(rest)?;
    let counts = small_paging().n_per_page(n)?;
    let mut cur = super::varint::Cursor::new(rest);
    let mut lens = Vec::with_capacity(counts.len());
    for _ in 1..counts.len() {
        lens.push(cur.len()?);
    }
    let pages = cur.bytes(cur.remaining())?;
    let listed: usize = lens
        .iter()
        .try_fold(0usize, |a, &l| a.checked_add(l))
        .unwrap_or(usize::MAX);
    let last = pages
        .len()
        .checked_sub(listed)
        .ok_or(CodecError::Corrupt("pco page lengths exceed the section"))?;
    lens.push(last);
    if lo >= hi {
        return Ok(());
    }
    // The pages overlapping lo..hi hold at most one page more on either side.
    out.reserve((hi - lo).min(n).saturating_add(2 * PAGE_N));
    let (mut offset, mut first) = (0usize, 0usize);
    let mut base = None;
    for (page_n, len) in counts.iter().copied().zip(lens) {
        let end = first + page_n;
        if end > lo && first < hi {
            if pages.len() < offset + len {
                return Err(CodecError::Corrupt("pco page outside the section"));
            }
            // The decoder is handed the rest of the section, not the page alone: it reads
            // a whole batch's worth of bytes ahead, and with fewer left it copies them into
            // a fresh zeroed buffer, once per page. Consumption is checked against the length.
            let bytes = pages
                .get(offset..)
                .ok_or(CodecError::Corrupt("pco page outside the section"))?;
            let at = out.len();
            base.get_or_insert(first);
            out.resize(at + page_n, T::default());
            let mut pd = cd.page_decompressor(bytes, page_n)?;
            let dst = out.get_mut(at..).ok_or(CodecError::Corrupt("pco page"))?;
            let progress = pd.read(dst)?;
            if progress.n_processed != page_n || !progress.finished {
                return Err(CodecError::Corrupt("pco page shorter than its count"));
            }
            if pd.into_src().len() != bytes.len() - len {
                return Err(CodecError::Corrupt(
                    "pco page length differs from its contents",
                ));
            }
        }
        offset += len;
        first = end;
        if first >= hi {
            break;
        }
    }
    let base = base.unwrap_or(lo);
    out.truncate(hi - base);
    out.drain(..lo - base);
    Ok(())
}
