// Stamp.swift: a proof-of-work stamp, the value of the RCPT parameter
// `POW=<stamp>` (docs/spec.md §5).
//
//   stamp     = version ":" algorithm ":" effort ":" recipient ":" date ":"
//               nonce ":" solution
//   version   = "1"
//   algorithm = "eqh96-5" / "a2id-1m" / "hc1"        ; PowAlgorithm
//   effort    = %x31-39 *9DIGIT                       ; 1 .. 4294967295
//   recipient = 1*b32          ; base32 of the UTF-8 of the normalised address
//   date      = 12DIGIT        ; YYYYMMDDhhmm, UTC
//   nonce     = 26b32          ; 16 random bytes
//   solution  = 1*b32          ; algorithm-specific bytes
//   b32       = %x61-7A / %x32-37   ; RFC 4648 base32, lower case, unpadded,
//                                   ; canonical (zero trailing bits)
//
// Every field fits RFC 5321's esmtp-value (no "=", SP or controls). The
// solution binds the challenge: SHA-256 of the stamp text up to, not
// including, the last ":" (so of every field but the solution).
//
// The deprecated algorithm `hc1` is legacy hashcash v1 itself, so that
// stamps made by the `hashcash` tool work as they are (docs/spec.md §5.4):
//
//   legacy    = "1:" bits ":" hc-date ":" recipient-text ":" [ext] ":" rand
//               ":" counter          ; `hashcash -m -b <bits> <recipient>`
//   bits      = 1*3DIGIT             ; claimed leading zero bits of SHA-1
//   hc-date   = 6DIGIT / 10DIGIT / 12DIGIT   ; YYMMDD[hhmm[ss]], UTC, 20YY
//
// It is told apart by its second field, digits where a stamp names its
// algorithm. Its effort is 2^bits (capped at 2^32 - 1), its recipient the
// resource field as written (any form of the address), its solution the
// whole token, and its double-spend key a hash of the token (the same rand
// with another counter is another proof, and costs another solve).
//
// Untrusted input: stamps come from RCPT commands of any client. Parsing is
// strict (one text per stamp: anything non-canonical is refused) and every
// refusal is a StampError naming the reason; no hashing happens here.

/// A proof-of-work stamp: work bound to one recipient, one date and one
/// nonce.
public struct Stamp: Equatable, Sendable {
    /// The only stamp version.
    public static let version = "1"

    /// The algorithm the solution is for.
    public var algorithm: PowAlgorithm
    /// The effort the solution claims (expected solving attempts).
    public var effort: UInt32
    /// The recipient the work is for.
    public var recipient: SMTorPAddress
    /// When the stamp was made, to the minute.
    public var date: StampDate
    /// 16 random bytes, never used twice (double-spend key).
    public var nonce: [UInt8]
    /// The solution bytes (their meaning depends on the algorithm).
    public var solution: [UInt8]

    /// The length of a nonce, in bytes.
    public static let nonceLength = 16
    /// The most leading zero bits a legacy hashcash stamp may claim (SHA-1).
    public static let legacyMaximumBits = 160

    /// Creates a stamp from its parts.
    public init(algorithm: PowAlgorithm, effort: UInt32, recipient: SMTorPAddress,
                date: StampDate, nonce: [UInt8], solution: [UInt8]) {
        self.algorithm = algorithm
        self.effort = effort
        self.recipient = recipient
        self.date = date
        self.nonce = nonce
        self.solution = solution
    }

    /// Parses a stamp, checking the fields in order and refusing with the
    /// first reason found.
    public static func parse(_ text: String,
                             limits: ProofOfWorkLimits = ProofOfWorkLimits()) throws(StampError) -> Stamp {
        let bytes = Array(text.utf8)
        guard bytes.count <= limits.maximumStampLength else { throw .tooLong }
        // esmtp-value = 1*(%d33-60 / %d62-126)
        guard !bytes.isEmpty, bytes.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E && $0 != 0x3D }) else {
            throw .syntax
        }
        let fields = bytes.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
            .map { String(decoding: $0, as: UTF8.self) }
        guard fields[0] == version else {
            throw fields[0].isEmpty || fields.count == 1 ? .syntax : .unknownVersion
        }
        if fields.count == 7, let first = fields[1].utf8.first, first >= 0x30 && first <= 0x39 {
            return try parseLegacy(text, fields: fields)
        }
        guard fields.count == 7, fields.allSatisfy({ !$0.isEmpty }) else { throw .syntax }
        guard let algorithm = PowAlgorithm(identifier: fields[1]) else { throw .unknownAlgorithm }
        guard let effort = Self.parseEffort(fields[2]) else { throw .badEffort }
        let recipient = try Self.parseRecipient(fields[3])
        guard let date = StampDate(text: fields[4]) else { throw .badDate }
        guard let nonce = Self.decodeCanonical(fields[5]), nonce.count == nonceLength else { throw .badNonce }
        guard let solution = Self.decodeCanonical(fields[6]), !solution.isEmpty,
              solution.count <= limits.maximumSolutionLength else { throw .badSolution }
        return Stamp(algorithm: algorithm, effort: effort, recipient: recipient,
                     date: date, nonce: nonce, solution: solution)
    }

    /// A legacy hashcash v1 token (`1:bits:date:resource:ext:rand:counter`)
    /// as an `hc1` stamp. The SHA-1 work is the kernel's to check.
    static func parseLegacy(_ text: String, fields: [String]) throws(StampError) -> Stamp {
        // ext may be empty; everything else may not.
        for (index, field) in fields.enumerated() where index != 4 && field.isEmpty { throw .syntax }
        let bitsText = Array(fields[1].utf8)
        guard bitsText.count <= 3, bitsText.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              bitsText.count == 1 || bitsText[0] != 0x30 else { throw .badEffort }
        var bits = 0
        for digit in bitsText { bits = bits * 10 + Int(digit - 0x30) }
        guard bits <= legacyMaximumBits else { throw .badEffort }
        let dateText = Array(fields[2].utf8)
        guard dateText.count == 6 || dateText.count == 10 || dateText.count == 12,
              let date = StampDate(text: "20" + String(decoding: dateText.prefix(6), as: UTF8.self)
                                   + (dateText.count >= 10 ? String(decoding: dateText[6..<10], as: UTF8.self) : "0000")),
              dateText.count != 12 || (dateText[10] >= 0x30 && dateText[10] <= 0x35
                                       && dateText[11] >= 0x30 && dateText[11] <= 0x39) else { throw .badDate }
        let recipient: SMTorPAddress?
        do throws(AddressError) {
            recipient = try Address.parseSMTorP(fields[3])
        } catch {
            throw .badRecipient
        }
        guard let recipient else { throw .badRecipient }
        return Stamp(algorithm: .hashcash1, effort: bits >= 32 ? UInt32.max : UInt32(1) << UInt32(bits),
                     recipient: recipient, date: date, nonce: Array(fields[5].utf8), solution: Array(text.utf8))
    }

    /// The least hashcash bits that carry `effort`: ceil(log2(effort)).
    public static func legacyBits(forEffort effort: UInt32) -> Int {
        var bits = 0
        while bits < 32 && (UInt64(1) << UInt64(bits)) < UInt64(effort) { bits += 1 }
        return bits
    }

    /// Whether this is a legacy hashcash token.
    public var isLegacy: Bool { algorithm == .hashcash1 }

    /// What the double-spend store remembers: the nonce, or for a legacy
    /// token the first 16 bytes of `hash` (SHA-256) of the whole token.
    public func spendKey(hash: ([UInt8]) -> [UInt8]) -> [UInt8] {
        isLegacy ? Array(hash(solution).prefix(Self.nonceLength)) : nonce
    }

    /// The stamp text without the solution (and without the last ":"): what
    /// the solution binds.
    public var unsolvedText: String {
        Self.version + ":" + algorithm.identifier + ":" + String(effort) + ":"
            + Base32.encode(Array(recipient.text.utf8)) + ":" + date.text + ":" + Base32.encode(nonce)
    }

    /// The stamp as sent in `POW=<stamp>`.
    public func render() -> String {
        if isLegacy { return String(decoding: solution, as: UTF8.self) }
        return unsolvedText + ":" + Base32.encode(solution)
    }

    /// The challenge the solution must answer: `hash` (SHA-256; the verifier
    /// passes the C core's) of the unsolved text.
    public func challenge(hash: ([UInt8]) -> [UInt8]) -> [UInt8] {
        hash(Array(unsolvedText.utf8))
    }

    /// A decimal 1 ... UInt32.max without leading zeros.
    public static func parseEffort(_ text: String) -> UInt32? {
        let digits = Array(text.utf8)
        guard digits.count <= 10, let first = digits.first, first != UInt8(ascii: "0") else { return nil }
        var value: UInt64 = 0
        for d in digits {
            guard d >= UInt8(ascii: "0") && d <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + UInt64(d - UInt8(ascii: "0"))
        }
        return value <= UInt64(UInt32.max) ? UInt32(value) : nil
    }

    /// Base32 of a normalised SMTorP address, written as it renders.
    static func parseRecipient(_ field: String) throws(StampError) -> SMTorPAddress {
        guard let bytes = decodeCanonical(field), Path.isValidUTF8(bytes[...]) else { throw .badRecipient }
        let text = String(decoding: bytes, as: UTF8.self)
        let parsed: SMTorPAddress?
        do throws(AddressError) {
            parsed = try Address.parseSMTorP(text)
        } catch {
            throw .badRecipient
        }
        guard let address = parsed, address.text == text else { throw .badRecipient }
        return address
    }

    /// Decodes base32 that is written the one way `Base32.encode` writes it.
    static func decodeCanonical(_ field: String) -> [UInt8]? {
        guard let bytes = Base32.decode(field), Base32.encode(bytes) == field else { return nil }
        return bytes
    }
}
