//! Ctrl-C handling: the first interrupt asks the run to stop at the next safe point (between
//! videos, with completed work already cached); the second ends the process at once.

use std::sync::Once;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static PRESSES: AtomicUsize = AtomicUsize::new(0);
static INSTALL: Once = Once::new();

/// Exit status of a process ended by SIGINT (128 + 2), as shells report it.
pub const EXIT_INTERRUPTED: i32 = 130;

/// The message of the error returned by work that stopped because of an interrupt.
pub const INTERRUPTED_MESSAGE: &str =
    "interrupted: completed videos are cached; run the same command again to resume";

/// Whether an interrupt was requested; long loops check it between units of work.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

/// Set or clear the interrupt flag by hand (tests, or an embedding program with its own signal
/// handling). Clearing it also resets the count of Ctrl-C presses.
pub fn set_interrupted(on: bool) {
    INTERRUPTED.store(on, Ordering::Relaxed);
    if !on {
        PRESSES.store(0, Ordering::Relaxed);
    }
}

/// The error that work stopped by an interrupt returns.
pub fn interrupted_error() -> crate::Error {
    crate::Error::Script(INTERRUPTED_MESSAGE.to_string())
}

/// Whether `e` is [`interrupted_error`].
pub fn is_interrupted_error(e: &crate::Error) -> bool {
    matches!(e, crate::Error::Script(m) if m == INTERRUPTED_MESSAGE)
}

/// Install the Ctrl-C handler (once per process; later calls do nothing). The first Ctrl-C sets
/// the flag and says what will happen; the second exits with status 130 straight away.
///
/// Fails only when another handler is already installed by other code in the process.
pub fn install_interrupt_handler() -> crate::Result<()> {
    let mut result = Ok(());
    INSTALL.call_once(|| {
        result = ctrlc::set_handler(|| {
            if PRESSES.fetch_add(1, Ordering::SeqCst) == 0 {
                INTERRUPTED.store(true, Ordering::SeqCst);
                eprintln!(
                    "\ninterrupt: finishing the current video, completed work is cached; \
                     press Ctrl-C again to abort"
                );
            } else {
                eprintln!("\ninterrupt: aborted");
                std::process::exit(EXIT_INTERRUPTED);
            }
        })
        .map_err(|e| crate::Error::InvalidArgument(format!("cannot install Ctrl-C handler: {e}")));
    });
    result
}
