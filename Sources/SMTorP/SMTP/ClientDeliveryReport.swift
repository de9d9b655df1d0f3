// ClientDeliveryReport.swift — what became of one message the SMTP client
// session was given: per recipient delivered, temporary or permanent
// failure, each with the reply that decided it.
//
// Untrusted input: the replies inside a report are the server's (parsed by
// ClientReplyParser, their text made printable) or made up by the client
// session (ClientReplies.swift).
// RFCs: RFC 5321 §4.2.1 (reply classes: 2yz success, 4yz transient, 5yz
// permanent), §6.1 (responsibility passes at the 250 to the end of data),
// RFC 3463 (enhanced status codes).

/// What became of the message for one recipient.
public enum RecipientOutcome: Equatable, Sendable {
    /// The server took responsibility for delivering the message to the
    /// recipient (RFC 5321 §6.1). The reply is the one to the end of the
    /// message, e.g. `250 2.0.0 Ok: queued as Q1`.
    case delivered(Reply)
    /// Not delivered now; try again later (a 4yz reply, or one the client
    /// made up for a timeout, a lost connection or a protocol error).
    case temporaryFailure(Reply)
    /// Not delivered, ever (a 5yz reply): the sender gets a bounce.
    case permanentFailure(Reply)

    /// The failure a negative reply stands for: permanent for 5yz, temporary
    /// for anything else (RFC 5321 §4.2.1).
    static func failure(_ reply: Reply) -> RecipientOutcome {
        reply.code / 100 == 5 ? .permanentFailure(reply) : .temporaryFailure(reply)
    }

    /// The reply that decided the outcome.
    public var reply: Reply {
        switch self {
        case .delivered(let reply), .temporaryFailure(let reply), .permanentFailure(let reply):
            return reply
        }
    }
}

/// One recipient and what became of the message for it.
public struct RecipientResult: Equatable, Sendable {
    /// The recipient, as given in the `ClientMessage`.
    public var recipient: Mailbox
    /// What became of the message for it.
    public var outcome: RecipientOutcome

    /// Creates a result.
    public init(recipient: Mailbox, outcome: RecipientOutcome) {
        self.recipient = recipient
        self.outcome = outcome
    }
}

/// What became of one message: the client session reports every message it
/// is given exactly once, with a result for each of its recipients.
public struct DeliveryReport: Equatable, Sendable {
    /// The `ClientMessage.identifier` of the message.
    public var identifier: String
    /// One result per recipient, in the order of `ClientMessage.recipients`.
    public var recipients: [RecipientResult]
    /// The server's reply to the end of the message (the "." of DATA or
    /// `BDAT ... LAST`) when the message text was sent for at least one
    /// accepted recipient and that reply came; nil otherwise.
    public var messageReply: Reply?

    /// Creates a report.
    public init(identifier: String, recipients: [RecipientResult], messageReply: Reply?) {
        self.identifier = identifier
        self.recipients = recipients
        self.messageReply = messageReply
    }

    /// Whether the server accepted the message as a whole (a 2yz reply to its
    /// end): then every recipient it accepted at RCPT is delivered.
    public var isAccepted: Bool {
        messageReply.map { $0.code / 100 == 2 } ?? false
    }
}
