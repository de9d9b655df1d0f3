// AuthPlain.swift — the SASL PLAIN message (RFC 4616 §2) that AUTH PLAIN
// carries on the submission listener (RFC 4954 §4): decoded from the bytes
// the client sent (after base64), validated, split into its three fields.
//
// Untrusted input: the whole message, from the network. Every field is
// bounded, must be valid UTF-8 without NUL, and the user name and password
// must not be empty; anything else is refused as a whole.
// RFCs: RFC 4616 (PLAIN), RFC 4954 (SMTP AUTH), RFC 3629 (UTF-8).

/// The credentials of one SASL PLAIN message:
/// `[authzid] NUL authcid NUL passwd` (RFC 4616 §2).
public struct AuthPlain: Equatable, Sendable {
    /// The authorization identity: empty, or the identity to act as.
    public var authorizationIdentity: String
    /// The authentication identity (the user name), not empty.
    public var user: String
    /// The password, as sent (UTF-8, not empty).
    public var password: [UInt8]

    /// Creates credentials from their parts.
    public init(authorizationIdentity: String, user: String, password: [UInt8]) {
        self.authorizationIdentity = authorizationIdentity
        self.user = user
        self.password = password
    }

    /// Decodes a PLAIN message (already base64-decoded); nil unless it has
    /// exactly two NUL separators, a non-empty user name and password, valid
    /// UTF-8 throughout, and no field longer than `maxFieldLength` octets.
    public init?(message: [UInt8], maxFieldLength: Int) {
        let fields = message.split(separator: 0x00, omittingEmptySubsequences: false)
        guard fields.count == 3 else {
            return nil
        }
        for field in fields {
            guard field.count <= maxFieldLength, Path.isValidUTF8(field) else {
                return nil
            }
        }
        guard !fields[1].isEmpty, !fields[2].isEmpty else {
            return nil
        }
        authorizationIdentity = String(decoding: fields[0], as: UTF8.self)
        user = String(decoding: fields[1], as: UTF8.self)
        password = Array(fields[2])
    }

    /// Whether the client asks to act as no one but itself: the
    /// authorization identity is empty or equals the user name (octet for
    /// octet). This node authorizes nothing else.
    public var actsAsItself: Bool {
        authorizationIdentity.isEmpty || authorizationIdentity.utf8.elementsEqual(user.utf8)
    }
}
