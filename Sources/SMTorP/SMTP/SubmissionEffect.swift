// SubmissionEffect.swift — the effects of a server session in full: every
// `ServerEffect` of the onion listener, plus the two that only the mail
// submission listener produces (start TLS, check a password). The session
// stays pure: the adapter performs the TLS upgrade and the password check
// and answers with `.ready` and `.passwordChecked`.
//
// Untrusted input: none parsed here; `checkPassword` carries a user name and
// password sent by the client (never to be logged).
// RFCs: RFC 6409 (message submission), RFC 3207 (STARTTLS), RFC 4954 (AUTH).

/// An effect of a server session, including the submission listener's.
///
/// The onion listener's session (profile `.relay`) only ever produces
/// `.server` effects, which `ServerSession.receive(_:)` returns unwrapped;
/// a submission session is driven with `ServerSession.receiveSubmission(_:)`.
public enum SubmissionEffect: Equatable, Sendable {
    /// An effect shared with the onion listener.
    case server(ServerEffect)
    /// Switch the connection to TLS now (RFC 3207 §4): the "220 2.0.0 Ready
    /// to start TLS" reply is the effect before this one and must be flushed
    /// first; input buffered after the STARTTLS command must be discarded.
    /// Answer with `.ready` once the handshake is done. The session has
    /// already forgotten everything it learned from the client.
    case startTLS
    /// Check this user name and password (AUTH PLAIN, RFC 4616) and answer
    /// with `.passwordChecked`. The session sends nothing until then. Never
    /// log the password.
    case checkPassword(user: String, password: [UInt8])
}

extension SubmissionEffect {
    // Shorthands, so that the session reads the same whichever vocabulary it
    // emits into.

    /// `.server(.send(reply))`.
    static func send(_ reply: Reply) -> SubmissionEffect {
        .server(.send(reply))
    }

    /// `.server(.expectLines(maxLength:))`.
    static func expectLines(maxLength: Int) -> SubmissionEffect {
        .server(.expectLines(maxLength: maxLength))
    }

    /// `.server(.expectBytes(count))`.
    static func expectBytes(_ count: UInt64) -> SubmissionEffect {
        .server(.expectBytes(count))
    }

    /// `.server(.setReadTimeout(milliseconds:))`.
    static func setReadTimeout(milliseconds: UInt64) -> SubmissionEffect {
        .server(.setReadTimeout(milliseconds: milliseconds))
    }

    /// `.server(.store(envelope, message:))`.
    static func store(_ envelope: Envelope, message: [UInt8]) -> SubmissionEffect {
        .server(.store(envelope, message: message))
    }

    /// `.server(.checkStamp(stamp, recipient:))`.
    static func checkStamp(_ stamp: String?, recipient: Mailbox) -> SubmissionEffect {
        .server(.checkStamp(stamp, recipient: recipient))
    }

    /// `.server(.close)`.
    static var close: SubmissionEffect {
        .server(.close)
    }
}
