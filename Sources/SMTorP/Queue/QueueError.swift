// QueueError.swift: why the outbound queue refused or could not do
// something.
//
// Untrusted input: none (the texts name our own ids and paths, and
// addresses that were already parsed).

/// A failure of the outbound queue.
public enum QueueError: Error, Equatable, Sendable {
    /// A file system operation failed (with the C core's reason and path).
    case io(CoreError)
    /// A message needs at least one recipient.
    case noRecipients
    /// More recipients than `QueueStore.maximumRecipients`.
    case tooManyRecipients(Int)
    /// The message is larger than the store's `maximumMessageSize`.
    case messageTooLarge(Int)
    /// A mailbox cannot be written as an RFC 5321 path (it would not parse
    /// back to itself), so it cannot be stored or sent.
    case invalidMailbox(String)
    /// A recipient is not at an onion service: the queue only routes SMTorP
    /// addresses (docs/spec.md §2).
    case recipientNotSMTorP(String)
    /// No message with this id is in the queue.
    case notFound(QueueID)
    /// The message file is incomplete or damaged; it was moved to
    /// `corrupt/` and will never be delivered.
    case corrupt(QueueID, reason: String)
    /// The states given do not match the message's recipients.
    case stateMismatch(QueueID)

    /// A sentence for logs.
    public var message: String {
        switch self {
        case .io(let error): return error.message
        case .noRecipients: return "a queued message needs at least one recipient"
        case .tooManyRecipients(let count): return "too many recipients (" + String(count) + ")"
        case .messageTooLarge(let size): return "message too large (" + String(size) + " octets)"
        case .invalidMailbox(let text): return "mailbox cannot be written as a path: " + text
        case .recipientNotSMTorP(let text): return "not an onion address: " + text
        case .notFound(let id): return "no queued message " + id.text
        case .corrupt(let id, let reason): return "queue file " + id.text + " is damaged: " + reason
        case .stateMismatch(let id): return "states do not match the recipients of " + id.text
        }
    }
}
