// DeliveryJob.swift: one connection's worth of work planned by the
// scheduler: the due recipients at one onion service, from one or more
// queued messages, and the mapping of what the connection achieved back to
// those recipients.
//
// Untrusted input: the connection's reports carry the remote server's
// replies (kept as they are; DeliveryAttemptOutcome sanitizes them when
// they are stored).
// Standards: RFC 5321 §3.3 (several RCPT per transaction, several
// transactions per connection).

/// The recipients at one destination to deliver over one connection.
public struct DeliveryJob: Equatable, Sendable {
    /// One queued message's share of a job: its recipients at the
    /// destination that are due.
    public struct Message: Equatable, Sendable {
        /// The queued message.
        public var id: QueueID
        /// Its reverse path (nil for `<>`).
        public var reversePath: Mailbox?
        /// Positions of the recipients in the message's recipient list.
        public var recipientIndices: [Int]
        /// Those recipients, in the same order.
        public var recipients: [Mailbox]
        /// The stamp each recipient's submitter carried, for a recipient not
        /// tried before (a stamp is spent once accepted), in the same order;
        /// nil for none.
        public var stamps: [String?] = []

        /// Creates a job message.
        public init(id: QueueID, reversePath: Mailbox?, recipientIndices: [Int], recipients: [Mailbox]) {
            self.id = id
            self.reversePath = reversePath
            self.recipientIndices = recipientIndices
            self.recipients = recipients
        }

        /// The message for the SMTP client session, named by the queue id so
        /// that its report finds its way back (`results(from:)`).
        public func clientMessage(content: [UInt8], requiresSMTPUTF8: Bool = false) -> ClientMessage {
            ClientMessage(identifier: id.text, reversePath: reversePath, recipients: recipients,
                          content: content, requiresSMTPUTF8: requiresSMTPUTF8, stamps: stamps)
        }
    }

    /// What became of one job message: the outcome for each of its
    /// recipients in the job, keyed by position in the message's recipient
    /// list.
    public struct Result: Equatable, Sendable {
        /// The queued message.
        public var id: QueueID
        /// Outcome per recipient index.
        public var outcomes: [Int: DeliveryAttemptOutcome]

        /// Creates a result.
        public init(id: QueueID, outcomes: [Int: DeliveryAttemptOutcome]) {
            self.id = id
            self.outcomes = outcomes
        }
    }

    /// The onion service's host name, `<56 characters>.onion`: the key the
    /// scheduler groups by and the name given to Tor's SOCKS port.
    public var destination: String
    /// The fingerprint label to check the server's certificate against: the
    /// longest one among the job's recipients (all of them are prefixes of
    /// it), or nil when none has one.
    public var fingerprintLabel: String?
    /// The messages, earliest due first (at most
    /// `QueueSettings.maximumMessagesPerConnection`).
    public var messages: [Message]

    /// Creates a job.
    public init(destination: String, fingerprintLabel: String?, messages: [Message]) {
        self.destination = destination
        self.fingerprintLabel = fingerprintLabel
        self.messages = messages
    }

    /// The reply recorded for a recipient the connection gave no report for
    /// (it ended before reaching that message): temporary, so it is retried.
    public static let notAttempted = Reply(
        451, EnhancedStatusCode(4, 4, 2), "connection ended before the message was sent")

    /// Maps what the connection achieved to every recipient of the job: a
    /// connection failure applies to all; otherwise each message's report
    /// (found by its identifier, the queue id) gives each recipient's
    /// outcome; a recipient without one is a temporary failure
    /// (`notAttempted`).
    public func results(from connection: ConnectionOutcome) -> [Result] {
        messages.map { message in
            var outcomes: [Int: DeliveryAttemptOutcome] = [:]
            let report = connection.reports.first { $0.identifier == message.id.text }
            for (position, index) in message.recipientIndices.enumerated() {
                if let failure = connection.failure {
                    outcomes[index] = .connectionFailure(failure)
                } else if let report, position < report.recipients.count,
                          report.recipients[position].recipient.isSameAddress(as: message.recipients[position]) {
                    outcomes[index] = DeliveryAttemptOutcome(report.recipients[position].outcome)
                } else {
                    outcomes[index] = .temporaryFailure(Self.notAttempted)
                }
            }
            return Result(id: message.id, outcomes: outcomes)
        }
    }
}
