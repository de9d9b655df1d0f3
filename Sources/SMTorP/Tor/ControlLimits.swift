// ControlLimits.swift: every limit the Tor control-port client enforces on
// what arrives from the control port, in one value.
//
// Untrusted input: none directly; these numbers bound what the session
// accepts from the control port. Tor is trusted more than an SMTP peer, but
// whatever listens on the configured port (a confused or hostile local
// process, a wrong port) must not make the node grow without bound.
// Spec: Tor control-spec.txt §2.3 (replies, data blocks), §4.1 (events).

/// The limits a `ControlSession` enforces on replies and events.
public struct ControlLimits: Equatable, Sendable {
    /// Longest line of a reply, event or data block, in octets, counting the
    /// CRLF. Tor's longest line that smtorp asks for is PROTOCOLINFO's
    /// `AUTH ... COOKIEFILE="<path>"` (a path of up to PATH_MAX, 4096, with
    /// escapes); 16 KiB leaves room and still bounds a runaway line. A longer
    /// line ends the session with `ControlError.lineTooLong`.
    public var lineLength: Int

    /// Most lines in one reply or event, data lines included. GETINFO of
    /// the few keys smtorp asks for is a handful of lines; 4096 allows large
    /// answers (config-text) while bounding memory.
    public var replyLines: Int

    /// Most octets in one reply or event (all of its lines). 1 MiB.
    public var replyOctets: Int

    /// Creates limits; the defaults are the values described above.
    public init(lineLength: Int = 16 * 1024, replyLines: Int = 4096, replyOctets: Int = 1024 * 1024) {
        self.lineLength = lineLength
        self.replyLines = replyLines
        self.replyOctets = replyOctets
    }
}
