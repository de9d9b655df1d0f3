// ProofOfWorkStampTests.swift: the stamp text (table-driven: valid stamps
// and one invalid stamp per StampError), dates, the POW keyword and RCPT
// parameter.
import XCTest
@testable import SMTorP

final class ProofOfWorkStampTests: XCTestCase {
    static let onion = "hnvcppgow2sc2yvdvdicu3ynonsteflxdxrehjr2ybekdc2z3iu63yid.onion"
    static let label = "emigcwfl5aj2vvqevedzyc2ykf4ry6li3ch64y66tt4xbuao4tja"
    static let recipient = try! Address.parseSMTorP("alice@" + onion)!
    static let nonce: [UInt8] = Array(0..<16)

    /// 2026-11-29 12:34 UTC.
    static let date = StampDate(text: "202611291234")!

    static func stamp(_ algorithm: PowAlgorithm = .equihash96x5, effort: UInt32 = 8,
                      recipient: SMTorPAddress = recipient) -> Stamp {
        Stamp(algorithm: algorithm, effort: effort, recipient: recipient, date: date,
              nonce: nonce, solution: [1, 2, 3, 4, 5])
    }

    /// The fields of a valid stamp, to be varied one at a time.
    static var fields: [String] {
        stamp().render().split(separator: ":", omittingEmptySubsequences: false).map(String.init)
    }

    static func with(_ index: Int, _ value: String) -> String {
        var f = fields
        f[index] = value
        return f.joined(separator: ":")
    }

    func testValidStampsRoundTrip() throws {
        let full = try Address.parseSMTorP("Alice@" + Self.label + "." + Self.onion)!
        let quoted = try Address.parseSMTorP("\"a b\"@" + Self.onion)!
        let valid = [
            Self.stamp(),
            Self.stamp(.argon2id1MiB, effort: 1),
            Self.stamp(recipient: full),
            Self.stamp(recipient: quoted),
        ]
        for stamp in valid {
            let text = stamp.render()
            XCTAssertEqual(try Stamp.parse(text), stamp, text)
            XCTAssertFalse(text.contains("=") || text.contains(" "), text)
            XCTAssertTrue(text.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }, text)
        }
        XCTAssertEqual(Self.fields[0], "1")
        XCTAssertEqual(Self.fields[1], "eqh96-5")
        XCTAssertEqual(Self.fields[4], "202611291234")
        XCTAssertEqual(Self.fields[5].count, 26)
    }

    func testEachInvalidReason() {
        let f = Self.fields
        let recipientOf = { (text: String) in Base32.encode(Array(text.utf8)) }
        let cases: [(String, StampError, String)] = [
            ("", .syntax, "empty"),
            (f.joined(separator: ":") + ":x", .syntax, "eight fields"),
            (f.dropLast().joined(separator: ":"), .syntax, "six fields"),
            (Self.with(3, ""), .syntax, "empty field"),
            (Self.with(6, "ab cd"), .syntax, "space"),
            (Self.with(6, "ab=cd"), .syntax, "equals sign"),
            (Self.with(6, "ab\u{1}"), .syntax, "control"),
            (Self.with(0, "2"), .unknownVersion, "version 2"),
            (Self.with(0, "01"), .unknownVersion, "version 01"),
            (Self.with(1, "eqh200-9"), .unknownAlgorithm, "unknown id"),
            (Self.with(1, "EQH96-5"), .unknownAlgorithm, "upper case id"),
            (Self.with(2, "0"), .badEffort, "zero"),
            (Self.with(2, "08"), .badEffort, "leading zero"),
            (Self.with(2, "4294967296"), .badEffort, "over UInt32"),
            (Self.with(2, "-1"), .badEffort, "negative"),
            (Self.with(2, "8x"), .badEffort, "not decimal"),
            (Self.with(3, "!!"), .badRecipient, "not base32"),
            (Self.with(3, recipientOf("alice@example.org")), .badRecipient, "legacy address"),
            (Self.with(3, recipientOf("Alice@" + Self.onion)), .badRecipient, "not normalised"),
            (Self.with(3, recipientOf("alice@" + Self.onion).uppercased()), .badRecipient, "upper-case base32"),
            (Self.with(3, recipientOf("alice")), .badRecipient, "no domain"),
            (Self.with(4, "20261129123"), .badDate, "11 digits"),
            (Self.with(4, "202602291200"), .badDate, "29 February 2026"),
            (Self.with(4, "202611292400"), .badDate, "hour 24"),
            (Self.with(4, "196912312359"), .badDate, "before 1970"),
            (Self.with(4, "2026-11-29T1"), .badDate, "ISO form"),
            (Self.with(5, Base32.encode(Array(0..<15))), .badNonce, "15 bytes"),
            (Self.with(5, Base32.encode(Array(0..<17))), .badNonce, "17 bytes"),
            (Self.with(5, f[5].uppercased()), .badNonce, "upper case"),
            (Self.with(5, "aaaaaaaaaaaaaaaaaaaaaaaaab"), .badNonce, "non-zero trailing bits"),
            (Self.with(6, "a"), .badSolution, "no whole byte"),
            (Self.with(6, "1"), .badSolution, "not base32"),
            (Self.with(6, Base32.encode([UInt8](repeating: 1, count: 257))), .badSolution, "too long"),
            (String(repeating: "a", count: 1001), .tooLong, "over the limit"),
        ]
        for (text, expected, name) in cases {
            XCTAssertThrowsError(try Stamp.parse(text), name) { error in
                XCTAssertEqual(error as? StampError, expected, name)
            }
        }
    }

    func testLegacyHashcashTokens() throws {
        // As `hashcash -m -b 20 alice@<onion>` writes them.
        let token = "1:20:261129:alice@" + Self.onion + "::5sauks+6qCSLVp7G:0000000009I"
        let stamp = try Stamp.parse(token)
        XCTAssertEqual(stamp.algorithm, .hashcash1)
        XCTAssertEqual(stamp.effort, 1 << 20)
        XCTAssertEqual(stamp.recipient, Self.recipient)
        XCTAssertEqual(stamp.date.text, "202611290000")
        XCTAssertEqual(stamp.render(), token)
        XCTAssertEqual(stamp.spendKey(hash: { Array($0.reversed()) }).count, 16)
        XCTAssertEqual(try Stamp.parse("1:20:2611291234:Alice@" + Self.onion + ":ext:r:c").date.text, "202611291234")
        XCTAssertEqual(try Stamp.parse("1:0:261129123456:alice@" + Self.onion + "::r:c").effort, 1)
        XCTAssertEqual(try Stamp.parse("1:40:261129:alice@" + Self.onion + "::r:c").effort, UInt32.max)
        XCTAssertEqual(Stamp.legacyBits(forEffort: 1), 0)
        XCTAssertEqual(Stamp.legacyBits(forEffort: 1 << 20), 20)
        XCTAssertEqual(Stamp.legacyBits(forEffort: (1 << 20) + 1), 21)
        XCTAssertEqual(Stamp.legacyBits(forEffort: UInt32.max), 32)
        let cases: [(String, StampError, String)] = [
            ("1:20:261129:alice@" + Self.onion + "::r", .syntax, "six fields"),
            ("1:20:261129:alice@" + Self.onion + "::r:", .syntax, "empty counter"),
            ("1:20:261129::::r:c", .syntax, "empty resource"),
            ("1:020:261129:alice@" + Self.onion + "::r:c", .badEffort, "leading zero"),
            ("1:161:261129:alice@" + Self.onion + "::r:c", .badEffort, "over 160 bits"),
            ("1:2x:261129:alice@" + Self.onion + "::r:c", .badEffort, "not decimal"),
            ("1:20:26112:alice@" + Self.onion + "::r:c", .badDate, "5 digits"),
            ("1:20:260229:alice@" + Self.onion + "::r:c", .badDate, "29 February 2026"),
            ("1:20:2611291260:alice@" + Self.onion + "::r:c", .badDate, "minute 60"),
            ("1:20:261129123460:alice@" + Self.onion + "::r:c", .badDate, "second 60"),
            ("1:20:261129:alice@example.org::r:c", .badRecipient, "legacy address"),
            ("1:20:261129:alice::r:c", .badRecipient, "no domain"),
        ]
        for (text, expected, name) in cases {
            XCTAssertThrowsError(try Stamp.parse(text), name) { error in
                XCTAssertEqual(error as? StampError, expected, name)
            }
        }
    }

    func testChallengeBindsEverythingButTheSolution() {
        let hash: ([UInt8]) -> [UInt8] = { $0 }  // identity: shows what is hashed
        let stamp = Self.stamp()
        XCTAssertEqual(stamp.challenge(hash: hash), Array(stamp.unsolvedText.utf8))
        XCTAssertTrue(stamp.render().hasPrefix(stamp.unsolvedText + ":"))
        var other = stamp
        other.solution = [9]
        XCTAssertEqual(other.challenge(hash: hash), stamp.challenge(hash: hash))
        other.effort = 9
        XCTAssertNotEqual(other.challenge(hash: hash), stamp.challenge(hash: hash))
    }

    func testStampDate() {
        XCTAssertEqual(StampDate(text: "197001010000")?.unixSeconds, 0)
        XCTAssertEqual(StampDate(text: "202601010000")?.unixSeconds, AlgorithmRegistry.hashcashDeprecation)
        XCTAssertEqual(StampDate(text: "202402291200")?.text, "202402291200")
        XCTAssertEqual(StampDate(unixSeconds: 1_790_000_099).text, StampDate(unixSeconds: 1_790_000_040).text)
        XCTAssertEqual(StampDate(unixSeconds: 1_790_000_059).unixSeconds % 60, 0)
    }

    func testAnnouncementAndParameter() throws {
        let requirements = AlgorithmRegistry.standard.requirement(at: AlgorithmRegistry.hashcashDeprecation)
        let line = PowExtension.announcement(requirements)
        XCTAssertEqual(line, "POW eqh96-5=8 a2id-1m=2 hc1=1048576")
        XCTAssertEqual(PowExtension.parseAnnouncement(line), requirements)
        XCTAssertEqual(PowExtension.parseAnnouncement("pow xyz-9=3 hc1=5"),
                       [PowRequirement(algorithm: .hashcash1, effort: 5)])
        XCTAssertNil(PowExtension.parseAnnouncement("POW eqh96-5"))
        XCTAssertNil(PowExtension.parseAnnouncement("POW eqh96-5=0"))
        XCTAssertNil(PowExtension.parseAnnouncement("SIZE 100"))

        let stamp = Self.stamp()
        let command = try Command.parse(Array(("RCPT TO:<alice@" + Self.onion + "> "
                                               + PowExtension.parameter(stamp)).utf8), limits: Limits())
        guard case .recipient(_, let parameters) = command else { return XCTFail() }
        XCTAssertEqual(try PowExtension.stampText(in: parameters), stamp.render())
        XCTAssertNil(try PowExtension.stampText(in: [ESMTPParameter(keyword: "SIZE", value: "1")]))
        XCTAssertThrowsError(try PowExtension.stampText(in: [ESMTPParameter(keyword: "POW", value: nil)]))
        XCTAssertThrowsError(try PowExtension.stampText(in: [ESMTPParameter(keyword: "POW", value: "a"),
                                                             ESMTPParameter(keyword: "POW", value: "b")]))
    }
}
