// NodePolicy.swift: which recipients the onion listener accepts.
//
// The onion listener never relays: a recipient is accepted only at one of
// the node's own domains and only for a configured local mailbox. The node's
// domains are its onion name, the onion name with a label in front that is a
// prefix (>= 16 characters) of its own fingerprint label, and configured
// aliases. Routing tricks that would make a naive server forward mail
// (`user%other@node`, `user!other@node`, a quoted local part holding `@`,
// address literals) are refused as relay attempts. Source routes are refused
// by the session itself before this policy is asked.
//
// Untrusted input: the recipient mailbox, parsed from the network.

/// Recipient policy of the onion listener: local mailboxes only.
public struct NodePolicy: RecipientPolicy, Sendable {
    /// The node's onion host name, lower case, e.g. "<56 chars>.onion".
    public let onionHostname: String
    /// The node's full 52-character fingerprint label.
    public let fingerprintLabel: String
    /// Extra domains treated as the node's own.
    public let aliases: [String]
    /// Local mailbox names, lower case.
    public let mailboxes: [String]

    /// The shortest fingerprint label accepted in front of the onion name
    /// (80 bits of the SHA-256, docs/spec.md).
    public static let minimumFingerprintLabelLength = 16

    public init(onionHostname: String, fingerprintLabel: String,
                aliases: [String], mailboxes: [String]) {
        self.onionHostname = lowercasedASCII(onionHostname)
        self.fingerprintLabel = lowercasedASCII(fingerprintLabel)
        self.aliases = aliases.map { lowercasedASCII($0) }
        self.mailboxes = mailboxes.map { lowercasedASCII($0) }
    }

    /// True when `domain` (any case) names this node.
    public func isLocalDomain(_ domain: String) -> Bool {
        let d = lowercasedASCII(domain)
        if d == onionHostname || aliases.contains(d) { return true }
        let suffix = "." + onionHostname
        guard d.utf8.count > suffix.utf8.count, d.hasSuffix(suffix) else { return false }
        let label = String(decoding: d.utf8.prefix(d.utf8.count - suffix.utf8.count), as: UTF8.self)
        let n = label.utf8.count
        return n >= Self.minimumFingerprintLabelLength && n <= fingerprintLabel.utf8.count
            && fingerprintLabel.hasPrefix(label)
    }

    public func decide(_ recipient: Mailbox) -> RecipientDecision {
        guard isLocalDomain(recipient.domain) else { return .reject(.relayDenied) }
        let local = lowercasedASCII(recipient.localPart)
        let routing = local.utf8.contains { $0 == UInt8(ascii: "@") || $0 == UInt8(ascii: "%")
            || $0 == UInt8(ascii: "!") }
        if routing || recipient.isQuotedLocalPart { return .reject(.relayDenied) }
        return mailboxes.contains(local) ? .accept : .reject(.mailboxUnavailable)
    }
}
