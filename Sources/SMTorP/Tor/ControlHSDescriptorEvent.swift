// ControlHSDescriptorEvent.swift: the HS_DESC event, which reports each step
// of publishing (CREATED, UPLOAD, UPLOADED, FAILED) and fetching
// (REQUESTED, RECEIVED, FAILED) onion service descriptors.
//
// Untrusted input: the event text from the control port.
// Spec: Tor control-spec.txt §4.1.25:
//   "650" SP "HS_DESC" SP Action SP HSAddress SP AuthType SP HsDir
//         [SP DescriptorID] [SP "REASON=" Reason] [SP "REPLICA=" Replica]
//         [SP "HSDIR_INDEX=" HSDirIndex]
// Tor 0.4.x writes, for a v3 service:
//   650 HS_DESC UPLOAD <56 chars> UNKNOWN $<40 HEX>~<nick> <blinded key b64> HSDIR_INDEX=<hex>
//   650 HS_DESC UPLOADED <56 chars> UNKNOWN $<40 HEX>~<nick>
//   650 HS_DESC FAILED <56 chars> UNKNOWN $<40 HEX>~<nick> REASON=UPLOAD_REJECTED
// (no DescriptorID on UPLOADED and on upload failures; see tor's
// control_event_hs_descriptor_upload_end()).

/// One HS_DESC event.
public struct ControlHSDescriptorEvent: Equatable, Sendable {
    /// What happened.
    public enum Action: Equatable, Sendable {
        /// A fetch from an HSDir was launched.
        case requested
        /// An upload to an HSDir was launched.
        case upload
        /// A fetched descriptor arrived.
        case received
        /// An HSDir accepted an upload.
        case uploaded
        /// A fetched descriptor was not used.
        case ignore
        /// A fetch or an upload failed (see `reason`).
        case failed
        /// A local service built a new descriptor.
        case created
        /// An action this version does not know.
        case other(String)

        init(_ word: String) {
            switch word {
            case "REQUESTED": self = .requested
            case "UPLOAD": self = .upload
            case "RECEIVED": self = .received
            case "UPLOADED": self = .uploaded
            case "IGNORE": self = .ignore
            case "FAILED": self = .failed
            case "CREATED": self = .created
            default: self = .other(word)
            }
        }
    }

    /// The action.
    public var action: Action
    /// The onion service ID (56 base32 characters, no ".onion"); nil when
    /// Tor wrote UNKNOWN.
    public var address: String?
    /// The AuthType field (NO_AUTH, BASIC_AUTH, STEALTH_AUTH, UNKNOWN).
    public var authType: String
    /// The HsDir field as written (`$<fingerprint>~<nickname>`); nil when
    /// Tor wrote UNKNOWN.
    public var hsDirectory: String?
    /// The HSDir's identity fingerprint, 40 upper-case hex digits, when
    /// `hsDirectory` starts with one.
    public var hsDirectoryFingerprint: String?
    /// The DescriptorID (v3: the blinded key in base64), when present.
    public var descriptorID: String?
    /// REASON= (e.g. UPLOAD_REJECTED, NOT_FOUND), when present.
    public var reason: String?
    /// REPLICA=, when present.
    public var replica: Int?
    /// HSDIR_INDEX=, when present.
    public var hsDirectoryIndex: String?

    /// Creates a value.
    public init(action: Action, address: String?, authType: String, hsDirectory: String?,
                hsDirectoryFingerprint: String?, descriptorID: String? = nil, reason: String? = nil,
                replica: Int? = nil, hsDirectoryIndex: String? = nil) {
        self.action = action
        self.address = address
        self.authType = authType
        self.hsDirectory = hsDirectory
        self.hsDirectoryFingerprint = hsDirectoryFingerprint
        self.descriptorID = descriptorID
        self.reason = reason
        self.replica = replica
        self.hsDirectoryIndex = hsDirectoryIndex
    }

    /// Parses the event's text, starting with the keyword `HS_DESC`.
    public init(parsing text: String) throws(ControlError) {
        let tokens = try ControlSyntax.tokens(text)
        guard tokens.count >= 5, tokens[0] == "HS_DESC" else {
            throw .protocolViolation("HS_DESC event with fewer than four fields")
        }
        action = Action(tokens[1])
        address = tokens[2] == "UNKNOWN" ? nil : tokens[2]
        if let address, !ControlSyntax.isServiceID(address) {
            throw .protocolViolation("HS_DESC event with a malformed onion address")
        }
        authType = tokens[3]
        hsDirectory = tokens[4] == "UNKNOWN" ? nil : tokens[4]
        hsDirectoryFingerprint = hsDirectory.flatMap(Self.fingerprint)
        for token in tokens.dropFirst(5) {
            if let (key, value) = try Self.keyword(token) {
                switch key {
                case "REASON": reason = value
                case "REPLICA":
                    guard let n = ControlSyntax.decimal(value) else {
                        throw .protocolViolation("HS_DESC REPLICA is not a number")
                    }
                    replica = n
                case "HSDIR_INDEX": hsDirectoryIndex = value
                default: continue  // a field added by a later Tor
                }
            } else if descriptorID == nil {
                descriptorID = token
            }
        }
    }

    /// `Keyword=Value` when the part before `=` looks like a keyword (upper
    /// case letters and `_`) and a value follows; a base64 descriptor ID
    /// ending in `=` padding is not taken for one.
    private static func keyword(_ token: String) throws(ControlError) -> (String, String)? {
        let bytes = Array(token.utf8)
        guard let eq = bytes.firstIndex(of: UInt8(ascii: "=")), eq > 0, eq + 1 < bytes.count,
              bytes[..<eq].allSatisfy({ ($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z")) || $0 == UInt8(ascii: "_") })
        else { return nil }
        guard let (key, value) = try ControlSyntax.keywordArgument(token) else { return nil }
        return (key, value)
    }

    /// The 40 hex digits after `$` in a LongName, upper-cased.
    static func fingerprint(_ longName: String) -> String? {
        let bytes = Array(longName.utf8)
        guard bytes.count >= 41, bytes[0] == UInt8(ascii: "$") else { return nil }
        let digits = String(decoding: bytes[1..<41], as: UTF8.self)
        guard ControlSyntax.unhex(digits) != nil else { return nil }
        if bytes.count > 41, bytes[41] != UInt8(ascii: "~"), bytes[41] != UInt8(ascii: "=") { return nil }
        return ControlSyntax.asciiUppercased(digits)
    }
}
