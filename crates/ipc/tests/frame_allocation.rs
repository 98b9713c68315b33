//! The claimed frame length is never allocated up front.
//!
//! A global allocator records the largest single allocation, so this test
//! lives in its own binary where nothing else allocates large buffers.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use ferrovpn_ipc::{read_frame, Connection, FrameError, IpcError, MAX_FRAME_LEN};
use tokio::io::AsyncWriteExt;

/// Largest allocation a frame read may make for a claimed length, in bytes.
///
/// The readers grow their buffer in steps of at most 64 KiB as bytes arrive.
/// A quarter of the maximum frame leaves room for that and for the runtime.
const ALLOCATION_LIMIT: usize = MAX_FRAME_LEN / 4;

struct LargestAllocation;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for LargestAllocation {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract for `layout`.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        // SAFETY: `ptr` was allocated by `System` with `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: LargestAllocation = LargestAllocation;

// One test function, so no other test allocates while the largest size is measured.
#[tokio::test]
async fn claimed_lengths_are_not_allocated() {
    LARGEST.store(0, Ordering::Relaxed);

    let oversized = u32::MAX.to_be_bytes();
    let oversized_result = read_frame(&mut &oversized[..]).await;

    let mut truncated = (MAX_FRAME_LEN as u32).to_be_bytes().to_vec();
    truncated.extend_from_slice(b"{\"version\":1");
    let truncated_result = read_frame(&mut &truncated[..]).await;

    let (mut app, provider) = tokio::io::duplex(4096);
    let mut connection = Connection::new(provider);
    app.write_all(&(MAX_FRAME_LEN as u32).to_be_bytes())
        .await
        .expect("write");
    app.write_all(b"{\"version\":1").await.expect("write");
    app.shutdown().await.expect("half close");
    let connection_result = connection.read_request().await;

    let largest = LARGEST.load(Ordering::Relaxed);
    assert!(
        matches!(oversized_result, Err(FrameError::TooLarge { .. })),
        "oversized frame: {oversized_result:?}"
    );
    assert!(
        matches!(truncated_result, Err(FrameError::Truncated { .. })),
        "truncated frame: {truncated_result:?}"
    );
    assert!(
        matches!(
            connection_result,
            Err(IpcError::Frame(FrameError::Truncated { .. }))
        ),
        "truncated frame on a connection: {connection_result:?}"
    );
    assert!(
        largest < ALLOCATION_LIMIT,
        "largest allocation was {largest} bytes, limit {ALLOCATION_LIMIT}"
    );
}
