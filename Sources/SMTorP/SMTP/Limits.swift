// Limits.swift — every size, count and time limit the ESMTP server session
// enforces, in one value.
//
// Untrusted input: none directly; these numbers bound what the session accepts
// from the (untrusted) peer.
// RFCs: RFC 5321 §4.5.3 (size and time limits), RFC 1870 (SIZE),
// RFC 2920 (PIPELINING), RFC 4954 §4 and RFC 4616 §2 (AUTH PLAIN, on the
// submission listener).

/// The limits an ESMTP server session enforces.
///
/// Lengths are in octets. Each default is the RFC minimum or a common
/// production value; every field can be changed.
public struct Limits: Equatable, Sendable {
    /// Longest command line, in octets, including the CRLF.
    ///
    /// RFC 5321 §4.5.3.1.4: 512 octets. A longer line is answered with
    /// 500 5.5.2.
    public var commandLineLength: Int

    /// Longest line of message text (DATA), in octets, including the CRLF.
    ///
    /// RFC 5321 §4.5.3.1.6: 1000 octets. A longer line makes the message
    /// refused at its end with 554 5.6.0.
    public var textLineLength: Int

    /// Longest local part of a mailbox, in octets, as written on the wire.
    ///
    /// RFC 5321 §4.5.3.1.1: 64 octets.
    public var localPartLength: Int

    /// Longest domain (or address literal, brackets included), in octets.
    ///
    /// RFC 5321 §4.5.3.1.2: 255 octets.
    public var domainLength: Int

    /// Longest reverse or forward path, in octets.
    ///
    /// RFC 5321 §4.5.3.1.3: 256 octets "including the punctuation and element
    /// separators", so the angle brackets count, as does a source route.
    public var pathLength: Int

    /// Most recipients accepted in one transaction.
    ///
    /// RFC 5321 §4.5.3.1.8 requires at least 100. One more is answered with
    /// 452 4.5.3 (RFC 5321 §4.5.3.1.10), which the client retries later.
    public var maxRecipients: Int

    /// Largest message accepted, in octets (as received, with CRLF line ends).
    ///
    /// Advertised as `SIZE` (RFC 1870); a larger declared or actual size is
    /// answered with 552 5.3.4.
    public var maxMessageSize: Int

    /// How long to wait for the next command, in milliseconds.
    ///
    /// RFC 5321 §4.5.3.2.7 (server timeout): at least 5 minutes.
    public var commandTimeoutMilliseconds: UInt64

    /// How long to wait for the next line of DATA or the next bytes of a
    /// BDAT chunk, in milliseconds.
    ///
    /// RFC 5321 §4.5.3.2.5 (data block, client side) is 3 minutes; the server
    /// waits at least as long as its command timeout.
    public var dataTimeoutMilliseconds: UInt64

    /// Error replies (5xx) tolerated in one session; on reaching this count the
    /// session answers 421 4.7.0 and closes.
    ///
    /// RFC 5321 §4.1.4 and §3.8 let a server end a session that misbehaves.
    public var maxProtocolErrors: Int

    /// Command lines held while a stored message awaits its result.
    ///
    /// RFC 2920 §3.1 lets the client send its next commands without waiting;
    /// they are answered, in order, after the reply to the message. Beyond this
    /// many the session answers 421 4.7.0 after that reply and closes.
    public var maxHeldCommands: Int

    /// Longest AUTH command line or authentication response line (submission
    /// listener only), in octets, including the CRLF.
    ///
    /// RFC 4954 §4 extends the command line limit to 12288 octets for AUTH
    /// and its responses. A longer response is answered with 500 5.5.6, a
    /// longer AUTH command line with 500 5.5.2.
    public var authenticationLineLength: Int

    /// Longest RCPT command line carrying a `POW=` stamp, in octets,
    /// including the CRLF (relay listener, when it offers POW).
    ///
    /// A stamp may be 1000 octets (ProofOfWorkLimits.maximumStampLength):
    /// with the 512 octets of an ordinary command line and " POW=" that is
    /// 1517; RFC 5321 §4.5.3.1.4 lets an extension raise the limit. Other
    /// commands keep `commandLineLength`; a longer RCPT line gets 500 5.5.2.
    public var stampCommandLineLength: Int

    /// Longest authorization identity, user name or password in an AUTH
    /// PLAIN message, in octets.
    ///
    /// RFC 4616 §2: servers MUST accept at least 255 octets for each. A
    /// longer one makes the message invalid (501 5.5.2).
    public var authenticationFieldLength: Int

    /// Creates limits with the default value of every field.
    public init() {
        self.init(commandLineLength: 512)
    }

    /// Creates limits, taking the default for every field not given.
    public init(
        commandLineLength: Int = 512,
        textLineLength: Int = 1000,
        localPartLength: Int = 64,
        domainLength: Int = 255,
        pathLength: Int = 256,
        maxRecipients: Int = 100,
        maxMessageSize: Int = 10_240_000,
        commandTimeoutMilliseconds: UInt64 = 300_000,
        dataTimeoutMilliseconds: UInt64 = 300_000,
        maxProtocolErrors: Int = 10,
        maxHeldCommands: Int = 100,
        authenticationLineLength: Int = 12_288,
        authenticationFieldLength: Int = 255,
        stampCommandLineLength: Int = 1536
    ) {
        self.commandLineLength = commandLineLength
        self.textLineLength = textLineLength
        self.localPartLength = localPartLength
        self.domainLength = domainLength
        self.pathLength = pathLength
        self.maxRecipients = maxRecipients
        self.maxMessageSize = maxMessageSize
        self.commandTimeoutMilliseconds = commandTimeoutMilliseconds
        self.dataTimeoutMilliseconds = dataTimeoutMilliseconds
        self.maxProtocolErrors = maxProtocolErrors
        self.maxHeldCommands = maxHeldCommands
        self.authenticationLineLength = authenticationLineLength
        self.authenticationFieldLength = authenticationFieldLength
        self.stampCommandLineLength = stampCommandLineLength
    }
}
