// ControlResponse.swift: the typed answer to a successful command, and the
// onion service ADD_ONION reports.
//
// Untrusted input: built by ControlSession from replies of the control
// port; values are checked there (a ServiceID must be 56 base32 characters).
// Spec: Tor control-spec.txt §3.9 (GETINFO reply), §3.27 (ADD_ONION reply).

/// An onion service Tor now publishes.
public struct ControlOnionService: Equatable, Sendable {
    /// The service ID: the address's 56 base32 characters, without ".onion".
    public var serviceID: String
    /// The key Tor generated (`ED25519-V3:<base64>`), only for a NEW key
    /// without DiscardPK. Secret.
    public var privateKey: String?

    /// The service's host name, `<serviceID>.onion`.
    public var hostname: String { serviceID + ".onion" }

    /// Creates a value.
    public init(serviceID: String, privateKey: String? = nil) {
        self.serviceID = serviceID
        self.privateKey = privateKey
    }
}

/// The answer to a command that succeeded.
public enum ControlResponse: Equatable, Sendable {
    /// GETINFO: each requested key and its value (a data block's value is
    /// its lines joined with LF).
    case info([String: String])
    /// ADD_ONION.
    case onion(ControlOnionService)
    /// Any other command: 250 OK.
    case done
}
