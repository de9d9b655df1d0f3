// QueueEntry.swift: one queued message as the scheduler sees it: its
// envelope (from the immutable message file) and the state of each
// recipient (from the state file, or all pending when there is none). The
// message text itself is not here; QueueStore.message(_:) loads it.
//
// Untrusted input: none parsed here (QueueMessageFile and QueueStateFile
// parse the files this is built from).

/// A queued message: envelope and per-recipient delivery state.
public struct QueueEntry: Equatable, Sendable {
    /// The message's queue id.
    public var id: QueueID
    /// When the message was queued (Unix seconds).
    public var arrival: Int64
    /// The reverse path; nil for the null reverse path `<>` (a bounce,
    /// which never gets a DSN of its own).
    public var reversePath: Mailbox?
    /// The recipients, in the order they were given.
    public var recipients: [Mailbox]
    /// The size of the message text in octets.
    public var size: Int
    /// One state per recipient, in the order of `recipients`.
    public var states: [RecipientState]
    /// The proof-of-work stamps the submitter carried, by recipient index
    /// (docs/spec.md §5.4).
    public var stamps: [Int: String] = [:]

    /// Creates an entry.
    public init(id: QueueID, arrival: Int64, reversePath: Mailbox?, recipients: [Mailbox],
                size: Int, states: [RecipientState]) {
        precondition(states.count == recipients.count, "one state per recipient")
        self.id = id
        self.arrival = arrival
        self.reversePath = reversePath
        self.recipients = recipients
        self.size = size
        self.states = states
    }

    /// Whether every recipient is delivered or failed.
    public var isEveryRecipientFinal: Bool {
        states.allSatisfy { $0.status.isFinal }
    }

    /// Whether nothing is left to do: every recipient is final and every
    /// failure was reported in a DSN (or needs none: the null sender). The
    /// message may then be removed.
    public var isFinished: Bool {
        guard isEveryRecipientFinal else { return false }
        if reversePath == nil { return true }
        return states.allSatisfy { $0.status != .failed || $0.failureReported }
    }
}
