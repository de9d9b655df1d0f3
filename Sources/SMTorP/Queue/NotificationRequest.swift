// NotificationRequest.swift: the scheduler's decision that a queued
// message's sender must now be told something: that some recipients failed
// (a bounce) or that delivery to some is delayed (a warning).
//
// Untrusted input: none.
// Standards: RFC 3464 §2.3.3 (Action: failed, delayed).

/// A DSN to produce for one queued message.
public struct NotificationRequest: Equatable, Sendable {
    /// Which DSN.
    public enum Kind: Equatable, Sendable {
        /// Recipients failed for good: "Undelivered Mail Returned to Sender".
        case failure
        /// Recipients are still being retried after the warning time:
        /// "Delayed Mail (still being retried)".
        case delay
    }

    /// Which DSN.
    public var kind: Kind
    /// The queued message it is about.
    public var id: QueueID
    /// The recipients it reports (positions in the message's list).
    public var recipientIndices: [Int]
    /// Who gets it: the message's sender (never the null sender).
    public var sender: Mailbox
    /// A name for this DSN that is the same if it is decided again after a
    /// crash (`<queue id>.failed.<first index>` or `.delayed.`): use it as
    /// the DSN's unique file name, so that storing it twice finds it already
    /// there, and it becomes the local part of its Message-ID.
    public var identifier: String
    /// Until when the queue retries the message (arrival + lifetime), for
    /// Will-Retry-Until.
    public var retryUntil: Int64

    /// Creates a request.
    public init(kind: Kind, id: QueueID, recipientIndices: [Int], sender: Mailbox,
                identifier: String, retryUntil: Int64) {
        self.kind = kind
        self.id = id
        self.recipientIndices = recipientIndices
        self.sender = sender
        self.identifier = identifier
        self.retryUntil = retryUntil
    }
}
