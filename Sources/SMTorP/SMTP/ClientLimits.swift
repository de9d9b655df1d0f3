// ClientLimits.swift — every time and size limit the SMTP client session
// applies to the server it talks to, in one value.
//
// Untrusted input: none directly; these numbers bound how long the client
// waits for, and how much it accepts of, the (untrusted) server's replies.
// RFCs: RFC 5321 §4.5.3.2 (client timeouts), §4.5.3.1.5 (reply line length).

/// The limits an SMTP client session applies.
///
/// Times are in milliseconds, lengths in octets. Each default is the value
/// RFC 5321 §4.5.3.2 asks for; every field can be changed.
public struct ClientLimits: Equatable, Sendable {
    /// How long to wait for the 220 greeting once the connection is up.
    ///
    /// RFC 5321 §4.5.3.2.1 (initial 220 message): 5 minutes.
    public var greetingTimeoutMilliseconds: UInt64

    /// How long to wait for the reply to MAIL.
    ///
    /// RFC 5321 §4.5.3.2.2: 5 minutes. Also used for the replies to EHLO,
    /// HELO, RSET and QUIT, for which RFC 5321 names no value.
    public var mailTimeoutMilliseconds: UInt64

    /// How long to wait for the reply to each RCPT.
    ///
    /// RFC 5321 §4.5.3.2.3: 5 minutes.
    public var recipientTimeoutMilliseconds: UInt64

    /// How long to wait for the 354 reply to DATA.
    ///
    /// RFC 5321 §4.5.3.2.4 (DATA initiation): 2 minutes.
    public var dataInitiationTimeoutMilliseconds: UInt64

    /// How long one write of message text may take.
    ///
    /// RFC 5321 §4.5.3.2.5 (data block): 3 minutes. The session sees no write
    /// progress, so this one is for the adapter, which applies it to each
    /// write of a `.send` effect.
    public var dataBlockTimeoutMilliseconds: UInt64

    /// How long to wait for the reply to the end of the message: the final
    /// "." of DATA, or `BDAT ... LAST`.
    ///
    /// RFC 5321 §4.5.3.2.6 (DATA termination): 10 minutes, counted from
    /// the moment the end of the message was sent.
    public var dataTerminationTimeoutMilliseconds: UInt64

    /// Longest reply line accepted, in octets, including the CRLF.
    ///
    /// RFC 5321 §4.5.3.1.5: 512 octets. A longer line is a protocol error.
    public var replyLineLength: Int

    /// Most lines accepted in one multi-line reply.
    ///
    /// RFC 5321 sets no limit; this bounds what a server can make the
    /// client hold. An EHLO reply lists about ten extensions. More lines are
    /// a protocol error.
    public var maxReplyLines: Int

    /// Creates limits with the default value of every field.
    public init() {
        self.init(replyLineLength: 512)
    }

    /// Creates limits, taking the default for every field not given.
    public init(
        greetingTimeoutMilliseconds: UInt64 = 300_000,
        mailTimeoutMilliseconds: UInt64 = 300_000,
        recipientTimeoutMilliseconds: UInt64 = 300_000,
        dataInitiationTimeoutMilliseconds: UInt64 = 120_000,
        dataBlockTimeoutMilliseconds: UInt64 = 180_000,
        dataTerminationTimeoutMilliseconds: UInt64 = 600_000,
        replyLineLength: Int = 512,
        maxReplyLines: Int = 100
    ) {
        self.greetingTimeoutMilliseconds = greetingTimeoutMilliseconds
        self.mailTimeoutMilliseconds = mailTimeoutMilliseconds
        self.recipientTimeoutMilliseconds = recipientTimeoutMilliseconds
        self.dataInitiationTimeoutMilliseconds = dataInitiationTimeoutMilliseconds
        self.dataBlockTimeoutMilliseconds = dataBlockTimeoutMilliseconds
        self.dataTerminationTimeoutMilliseconds = dataTerminationTimeoutMilliseconds
        self.replyLineLength = replyLineLength
        self.maxReplyLines = maxReplyLines
    }
}
