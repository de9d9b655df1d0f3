// SubmissionPolicy.swift — which recipients the mail submission listener
// (RFC 6409) accepts from the node's own, authenticated users.
//
//   - the node's own domains: its local mailboxes, decided as the onion
//     listener decides them (NodePolicy: unknown mailbox 550 5.1.1, routing
//     tricks 550 5.7.1);
//   - any other SMTorP address (an onion domain): accepted, for the
//     outbound queue;
//   - a legacy (non-onion) address: refused, as there is no smarthost to
//     send it through;
//   - a message whose recipients MIX the two kinds is refused at the first
//     recipient of the other kind: legacy recipients could not reply to all
//     (their mail systems cannot reach onion addresses).
//
// The mixing rule needs the recipients accepted so far, which the session
// passes to `decide(_:accepted:)`; the policy itself keeps no state.
//
// Untrusted input: the recipient mailbox, parsed from the network by the
// session, classified here with Address.parse.
// Specs: docs/spec.md §2 (addresses), RFC 6409 §8.1 (submission policy),
// RFC 3463 (5.7.1 delivery not authorized, 5.1.3 bad address syntax).

/// Recipient policy of the submission listener: the node's mailboxes and
/// SMTorP addresses, never mixed with legacy ones.
public struct SubmissionPolicy: RecipientPolicy, Sendable {
    /// The kind of a recipient, for the mixing rule.
    public enum Kind: Equatable, Sendable {
        /// An SMTorP address (the node's own mailboxes included).
        case smtorp
        /// A legacy address (anything that is not an onion domain).
        case legacy
    }

    /// What `classify(_:)` found.
    public enum Classification: Equatable, Sendable {
        /// A recipient mail can be sent to, of this kind.
        case recipient(Kind)
        /// A recipient refused whatever else the message has, with this reply.
        case refused(Reply)
    }

    /// The node's own domains and mailboxes.
    public let node: NodePolicy
    /// Whether legacy recipients can be sent through a smarthost. None
    /// exists yet: false refuses them all.
    public let hasSmarthost: Bool

    /// Creates the policy for the node described by `node`.
    public init(node: NodePolicy, hasSmarthost: Bool = false) {
        self.node = node
        self.hasSmarthost = hasSmarthost
    }

    /// Decides on a recipient as the first of its message.
    public func decide(_ recipient: Mailbox) -> RecipientDecision {
        decide(recipient, accepted: [])
    }

    /// Decides on a recipient, given those already accepted for the message.
    public func decide(_ recipient: Mailbox, accepted: [Mailbox]) -> RecipientDecision {
        let kind: Kind
        switch classify(recipient) {
        case .refused(let reply):
            return .reject(reply)
        case .recipient(let found):
            kind = found
        }
        if let first = accepted.first, case .recipient(let acceptedKind) = classify(first), acceptedKind != kind {
            return .reject(.mixedRecipients)
        }
        if kind == .legacy && !hasSmarthost {
            return .reject(.legacyRecipientNeedsSmarthost)
        }
        return .accept
    }

    /// The kind of `recipient`, or the refusal when it cannot be sent to.
    public func classify(_ recipient: Mailbox) -> Classification {
        if node.isLocalDomain(recipient.domain) {
            // One of the node's own addresses (aliases included): a local
            // mailbox, decided exactly as the onion listener would.
            switch node.decide(recipient) {
            case .accept:
                return .recipient(.smtorp)
            case .reject(let reply):
                return .refused(reply)
            }
        }
        let address: Address
        do throws(AddressError) {
            address = try Address.parse(recipient.text)
        } catch {
            return .refused(.invalidRecipientAddress(error.message))
        }
        switch address {
        case .smtorp(let smtorp):
            if smtorp.onion.hostname == node.onionHostname {
                // The node's onion with a fingerprint label that is not its
                // own: refused as the onion listener refuses it.
                return .refused(.relayDenied)
            }
            return .recipient(.smtorp)
        case .legacy:
            return .recipient(.legacy)
        }
    }
}
