// ClientReplies.swift — the replies the SMTP client session makes up itself,
// for outcomes no server reply stands for: a timeout, a lost connection, a
// malformed reply, or a message that cannot be sent to this server at all.
// They go into delivery reports (and from there into bounces and logs),
// never onto the wire.
//
// Untrusted input: none.
// RFCs: RFC 3463 (enhanced status codes: X.4.2 bad connection, X.5.0
// protocol, X.3.4 too big, X.6.3 conversion required, X.6.7 non-ASCII
// addresses, X.1.3 / X.1.7 bad address syntax), RFC 5321 §4.2.2 (codes).

extension Reply {
    /// 451 4.4.2: no reply came within the timeout (RFC 5321 §4.5.3.2).
    public static let clientTimeout = Reply(
        451, EnhancedStatusCode(4, 4, 2), "No reply from the server within the timeout")

    /// 451 4.4.2: the connection was closed before the transaction ended.
    public static let clientConnectionLost = Reply(
        451, EnhancedStatusCode(4, 4, 2), "Connection closed before the transaction ended")

    /// 451 4.5.0: the server sent a reply the client cannot read (malformed,
    /// too long, unexpected); the session was ended.
    public static let clientProtocolError = Reply(
        451, EnhancedStatusCode(4, 5, 0), "Protocol error: unreadable or unexpected reply from the server")

    /// 451 4.3.0: the message was given after the session had finished or
    /// ended, and was not sent.
    public static let clientSessionEnded = Reply(
        451, EnhancedStatusCode(4, 3, 0), "Session already ended; message not sent")

    /// 552 5.3.4: the message is larger than the server's announced SIZE
    /// (RFC 1870): refused without sending it.
    public static func clientMessageTooLarge(size: UInt64, limit: UInt64) -> Reply {
        Reply(552, EnhancedStatusCode(5, 3, 4),
              "Message of \(size) octets exceeds the server's limit of \(limit) octets")
    }

    /// 554 5.6.7: the message needs SMTPUTF8 and the server does not offer it
    /// (RFC 6531): refused without sending it.
    public static let clientSMTPUTF8NotOffered = Reply(
        554, EnhancedStatusCode(5, 6, 7), "Message needs SMTPUTF8, which the server does not offer")

    /// 554 5.6.3: the message has 8-bit content and the server does not offer
    /// 8BITMIME. RFC 6152 leaves the client two choices, convert the message
    /// to 7 bits or return it; converting would break signatures and needs a
    /// MIME encoder, so this client returns it.
    public static let clientEightBitNotOffered = Reply(
        554, EnhancedStatusCode(5, 6, 3), "Message has 8-bit content; the server does not offer 8BITMIME")

    /// 553 5.1.7: the reverse path cannot be written as an SMTP path.
    public static let clientBadSender = Reply(
        553, EnhancedStatusCode(5, 1, 7), "Sender address cannot be sent in SMTP")

    /// 553 5.1.3: the recipient cannot be written as an SMTP path.
    public static let clientBadRecipient = Reply(
        553, EnhancedStatusCode(5, 1, 3), "Recipient address cannot be sent in SMTP")
}
