// AddressTests.swift: address details not in the vector file, mailto: URIs
// (round trips and hostile input), and the QR image writers.
import XCTest
@testable import SMTorP

final class AddressTests: XCTestCase {
    let onion = "hnvcppgow2sc2yvdvdicu3ynonsteflxdxrehjr2ybekdc2z3iu63yid.onion"
    let label = "emigcwfl5aj2vvqevedzyc2ykf4ry6li3ch64y66tt4xbuao4tja"

    func testNonUTF8IsRefused() {
        // Invalid UTF-8 cannot come through a Swift String (it is repaired on
        // decoding); the byte-level validator the parsers share refuses it.
        XCTAssertFalse(Path.isValidUTF8([0x61, 0x80][...]))
    }

    func testFingerprintPrefixMatching() throws {
        guard let full = try Address.parseSMTorP("alice@" + label + "." + onion) else { return XCTFail() }
        let fingerprint = Base32.decode(label)!
        XCTAssertTrue(full.matches(fingerprint: fingerprint))
        for n in [16, 17, 30, 51] {
            let short = try Address.parseSMTorP("alice@" + String(label.prefix(n)) + "." + onion)!
            XCTAssertTrue(short.matches(fingerprint: fingerprint), String(n))
        }
        var other = fingerprint
        other[31] ^= 0x10  // changes the 52nd character only
        XCTAssertFalse(full.matches(fingerprint: other))
        XCTAssertTrue(try Address.parseSMTorP("alice@" + String(label.prefix(16)) + "." + onion)!
            .matches(fingerprint: other))
        var first = fingerprint
        first[0] ^= 0x80
        XCTAssertFalse(try Address.parseSMTorP("alice@" + String(label.prefix(16)) + "." + onion)!
            .matches(fingerprint: first))
        let bare = try Address.parseSMTorP("alice@" + onion)!
        XCTAssertFalse(bare.matches(fingerprint: fingerprint))  // no label: trust on first use instead
        XCTAssertEqual(bare.upgraded(fingerprint: fingerprint), full)
    }

    func testMinimumFingerprintLengthIsAPolicy() {
        let a = "alice@" + String(label.prefix(20)) + "." + onion
        XCTAssertNoThrow(try Address.parse(a))
        XCTAssertThrowsError(try Address.parse(a, minimumFingerprintLength: 24)) {
            XCTAssertEqual($0 as? AddressError, .fingerprintTooShort(characters: 20, minimum: 24))
        }
        // The policy can raise the floor, never lower it below 80 bits.
        XCTAssertThrowsError(try Address.parse("alice@" + String(label.prefix(10)) + "." + onion,
                                               minimumFingerprintLength: 4)) {
            XCTAssertEqual($0 as? AddressError, .fingerprintTooShort(characters: 10, minimum: 16))
        }
    }

    func testMailtoRoundTrips() throws {
        let cases = [
            "mailto:alice@" + onion,
            "mailto:alice@" + label + "." + onion + "?subject=Hello%20there",
            "mailto:alice@" + onion + ",bob@" + onion + "?cc=carol@example.org&subject=a%26b%3Dc&body=line%201%0D%0Aline%202",
            "mailto:%22a%20b%22@" + onion,
            "mailto:j%C3%BCrgen@" + onion + "?subject=%C3%BCber",
        ]
        for uri in cases {
            let parsed = try MailtoURL.parse(uri)
            XCTAssertEqual(parsed.text, uri)
            XCTAssertEqual(try MailtoURL.parse(parsed.text), parsed)
        }
        let built = MailtoURL(to: [try Address.parse("alice@" + onion)], subject: "Grüße & more?", body: "a\r\nb")
        let again = try MailtoURL.parse(built.text)
        XCTAssertEqual(again.subject, "Grüße & more?")
        XCTAssertEqual(again.body, "a\r\nb")
        XCTAssertEqual(try MailtoURL.parse("MAILTO:alice@" + onion + "?SUBJECT=x").subject, "x")
        XCTAssertEqual(try MailtoURL.parse("mailto:?to=alice@" + onion).to.count, 1)
    }

    func testMailtoHostileInput() {
        let bad: [(String, MailtoError)] = [
            ("http://example.com", .notMailto),
            ("mailto", .notMailto),
            ("mailto:alice@" + onion + "?subject=a%0D%0ABcc:%20victim@example.org", .headerInjection(field: "subject")),
            ("mailto:alice@" + onion + "?x-header=a%0Ab", .headerInjection(field: "x-header")),
            ("mailto:alice@" + onion + "%0D%0ABcc:x@y", .headerInjection(field: "to")),
            ("mailto:alice@" + onion + "?subject=%G1", .badEscape),
            ("mailto:alice@" + onion + "?subject=%4", .badEscape),
            ("mailto:alice@" + onion + "?subject=%", .badEscape),
            ("mailto:alice@" + onion + "?subject=%FF%FE", .notUTF8),
            ("mailto:alice@" + onion + "?subject=a&subject=b", .duplicateField("subject")),
            ("mailto:?subject=nobody", .noRecipient),
            ("mailto:alice@abcdefghijklmnop.onion", .badAddress("alice@abcdefghijklmnop.onion", .onionV2)),
            ("mailto:" + String(repeating: "a", count: 9000), .tooLong(octets: 9007)),
        ]
        for (uri, expected) in bad {
            XCTAssertThrowsError(try MailtoURL.parse(uri), uri) { XCTAssertEqual($0 as? MailtoError, expected, uri) }
        }
        // bcc in a link is ignored, never a hidden recipient.
        XCTAssertEqual(try MailtoURL.parse("mailto:alice@" + onion + "?bcc=spy@example.org").to.count, 1)
    }

    func testPNGStructureAndChecksums() {
        let m = QRMatrix(width: 3, modules: [true, false, true, false, true, false, true, false, true])!
        let png = m.png(scale: 2, quietZone: 1)
        XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        // Walk the chunks and check each CRC.
        var i = 8
        var types: [String] = []
        while i < png.count {
            let len = Int(png[i]) << 24 | Int(png[i + 1]) << 16 | Int(png[i + 2]) << 8 | Int(png[i + 3])
            let typed = Array(png[(i + 4)..<(i + 8 + len)])
            let crc = UInt32(png[i + 8 + len]) << 24 | UInt32(png[i + 9 + len]) << 16
                | UInt32(png[i + 10 + len]) << 8 | UInt32(png[i + 11 + len])
            XCTAssertEqual(QRMatrix.crc32(typed), crc)
            types.append(String(decoding: typed.prefix(4), as: UTF8.self))
            i += 12 + len
        }
        XCTAssertEqual(types, ["IHDR", "IDAT", "IEND"])
        XCTAssertEqual(QRMatrix.crc32(Array("123456789".utf8)), 0xCBF4_3926)  // the standard check value
        XCTAssertNil(QRMatrix(width: 2, modules: [true]))
        XCTAssertTrue(m.svg().contains("viewBox=\"0 0 11 11\""))
        // Light modules are drawn (light-on-dark terminals); two rows per line.
        XCTAssertEqual(m.terminalText(quietZone: 0), "▄▀▄\n▄█▄\n")
    }
}
