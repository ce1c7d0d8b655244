//! What every `smoltcp`-style view shares: the wrapper struct with its two
//! constructors ([`packet_view!`]) and the exact-length check
//! ([`exact_len`]). Each module still writes its own length check, getters
//! and setters by hand: those are where the views differ.

use super::RxError;

/// Declares a view over a byte buffer and its constructors:
///
/// ```text
/// packet_view! {
///     /// A view of a Heartbeat payload.
///     pub struct Packet<T: AsRef<[u8]>> { buffer: T }
///     checked by check_len;
/// }
/// ```
///
/// expands to exactly that struct (deriving `Clone, Copy, Debug,
/// PartialEq, Eq`, the doc comment kept) and an
/// `impl<T: AsRef<[u8]>> Packet<T>` with
///
/// - `pub const fn new_unchecked(buffer: T) -> Packet<T>`, and
/// - `pub fn new_checked(buffer: T) -> Result<Packet<T>, RxError>`, which
///   wraps and then runs the named check (`check_len` above), a
///   `fn(&self) -> Result<(), RxError>` the module writes itself.
///
/// The struct line is matched literally, so the invocation reads as the
/// definition it produces; only the name and the check vary.
macro_rules! packet_view {
    (
        $(#[$attr:meta])*
        pub struct $name:ident<T: AsRef<[u8]>> { buffer: T }
        checked by $check:ident;
    ) => {
        $(#[$attr])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct $name<T: AsRef<[u8]>> {
            buffer: T,
        }

        impl<T: AsRef<[u8]>> $name<T> {
            /// Wraps `buffer` without checks; getters may panic on a short
            /// buffer.
            pub const fn new_unchecked(buffer: T) -> $name<T> {
                $name { buffer }
            }

            #[doc = concat!(
                "Wraps `buffer` after [`", stringify!($name), "::", stringify!($check), "`]."
            )]
            pub fn new_checked(buffer: T) -> Result<$name<T>, $crate::wire::RxError> {
                let view = $name::new_unchecked(buffer);
                view.$check()?;
                Ok(view)
            }
        }
    };
}

pub(crate) use packet_view;

/// The rule for a buffer that must hold exactly `expected` bytes: shorter
/// is [`RxError::Truncated`], longer (trailing bytes) is
/// [`RxError::Malformed`], so every message has one encoding.
pub(crate) const fn exact_len(len: usize, expected: usize) -> Result<(), RxError> {
    if len < expected {
        return Err(RxError::Truncated);
    }
    if len > expected {
        return Err(RxError::Malformed);
    }
    Ok(())
}
