//! The allocation guard: a counting global allocator (installed by the fuzz binary) so that a
//! parser asked for 2^60 bytes by a corrupt length field is caught as a finding, not an OOM kill.
//!
//! * Every exec's peak of live heap bytes is measured ([`reset_peak`], [`peak_since_reset`]); the
//!   engine reports an exec whose peak passes its budget like a panic.
//! * A single request above [`set_hard_limit`] (a size no small input can justify) never reaches
//!   the system allocator: the current input is written to the crash file named by
//!   [`set_crash_file`] with raw `libc` calls (no allocation inside the allocator) and the process
//!   aborts with a message naming the file.

use std::alloc::{GlobalAlloc, Layout, System};
use std::ffi::CString;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering::Relaxed};
use std::sync::Mutex;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static HARD_LIMIT: AtomicUsize = AtomicUsize::new(usize::MAX);
static INPUT_PTR: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
static INPUT_LEN: AtomicUsize = AtomicUsize::new(0);
/// NUL-terminated path of the crash file (leaked `CString`, set outside the allocator).
static CRASH_PATH: AtomicPtr<libc::c_char> = AtomicPtr::new(std::ptr::null_mut());
static CRASH_PATH_KEEP: Mutex<Option<CString>> = Mutex::new(None);

/// The counting allocator; `#[global_allocator] static A: GuardAlloc = GuardAlloc;` in a binary.
pub struct GuardAlloc;

impl GuardAlloc {
    #[inline]
    fn check(size: usize) {
        if size > HARD_LIMIT.load(Relaxed) {
            oversized(size);
        }
    }
    #[inline]
    fn add(size: usize) {
        let live = LIVE.fetch_add(size, Relaxed) + size;
        PEAK.fetch_max(live, Relaxed);
    }
}

unsafe impl GlobalAlloc for GuardAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Self::check(layout.size());
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            Self::add(layout.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Self::check(layout.size());
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            Self::add(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        Self::check(new_size);
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Relaxed);
            Self::add(new_size);
        }
        p
    }
}

/// Writes the current input to the crash file and aborts (called inside the allocator: no
/// allocation, no panic, only libc).
#[cold]
fn oversized(size: usize) -> ! {
    let mut msg = [0u8; 160];
    let text = b"lexalign-fuzz: allocation guard: one request of ";
    let mut n = 0;
    for &b in text {
        msg[n] = b;
        n += 1;
    }
    n += write_usize(&mut msg[n..], size);
    for &b in b" bytes; the input is saved in the crash file (see --out)\n" {
        if n < msg.len() {
            msg[n] = b;
            n += 1;
        }
    }
    unsafe {
        libc::write(2, msg.as_ptr().cast(), n);
    }
    dump_current_input();
    unsafe { libc::abort() }
}

/// Writes the input being run to the crash file and names it on stderr, with libc only (safe to
/// call from the allocator or from the watchdog thread while the exec hangs).
pub fn dump_current_input() {
    unsafe {
        let path = CRASH_PATH.load(Relaxed);
        let data = INPUT_PTR.load(Relaxed);
        if !path.is_null() && !data.is_null() {
            let fd = libc::open(path, libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC, 0o644);
            if fd >= 0 {
                libc::write(fd, data.cast(), INPUT_LEN.load(Relaxed));
                libc::close(fd);
                libc::write(2, b"lexalign-fuzz: input saved to ".as_ptr().cast(), 30);
                libc::write(2, path.cast(), libc::strlen(path));
                libc::write(2, b"\n".as_ptr().cast(), 1);
            }
        }
    }
}

fn write_usize(out: &mut [u8], mut v: usize) -> usize {
    let mut digits = [0u8; 20];
    let mut k = 0;
    loop {
        digits[k] = b'0' + (v % 10) as u8;
        k += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let k = k.min(out.len());
    for i in 0..k {
        out[i] = digits[k - 1 - i];
    }
    k
}

/// Single requests above `bytes` abort the process after saving the input (see the module doc).
pub fn set_hard_limit(bytes: usize) {
    HARD_LIMIT.store(bytes, Relaxed);
}

/// Where [`GuardAlloc`] saves the input on an oversized request.
pub fn set_crash_file(path: &std::path::Path) {
    use std::os::unix::ffi::OsStrExt;
    let c = CString::new(path.as_os_str().as_bytes()).expect("a path without NUL");
    let mut keep = CRASH_PATH_KEEP.lock().unwrap_or_else(|e| e.into_inner());
    CRASH_PATH.store(c.as_ptr() as *mut _, Relaxed);
    *keep = Some(c);
}

/// The input being run (borrowed for the duration of one exec; cleared with an empty slice).
pub fn set_current_input(input: &[u8]) {
    INPUT_PTR.store(input.as_ptr() as *mut u8, Relaxed);
    INPUT_LEN.store(input.len(), Relaxed);
}

/// Live heap bytes now (0 unless [`GuardAlloc`] is the global allocator).
pub fn live() -> usize {
    LIVE.load(Relaxed)
}

/// Starts a new peak measurement at the current live size.
pub fn reset_peak() {
    PEAK.store(LIVE.load(Relaxed), Relaxed);
}

/// Peak live bytes since [`reset_peak`], minus `base`.
pub fn peak_since(base: usize) -> usize {
    PEAK.load(Relaxed).saturating_sub(base)
}

/// Whether the binary installed [`GuardAlloc`] (a 1 KiB allocation moves the counters).
pub fn installed() -> bool {
    let before = LIVE.load(Relaxed);
    let v: Vec<u8> = Vec::with_capacity(1024);
    let moved = LIVE.load(Relaxed) != before;
    drop(std::hint::black_box(v));
    moved
}

#[cfg(test)]
mod tests {
    #[test]
    fn digits() {
        let mut b = [0u8; 20];
        let n = super::write_usize(&mut b, 1152921504606846976);
        assert_eq!(&b[..n], b"1152921504606846976");
        let n = super::write_usize(&mut b, 0);
        assert_eq!(&b[..n], b"0");
    }
}
