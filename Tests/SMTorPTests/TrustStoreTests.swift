// TrustStoreTests.swift: trust on first use, label checks, the address book,
// and the client's early EHLO.
import Foundation
import XCTest
@testable import SMTorP

final class TrustStoreTests: XCTestCase {
    let onion = "hnvcppgow2sc2yvdvdicu3ynonsteflxdxrehjr2ybekdc2z3iu63yid.onion"

    func temporaryDirectory() -> String {
        let d = NSTemporaryDirectory() + "smtorp-trust-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    func testFirstUseThenPinThenMismatch() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let short = try Address.parseSMTorP("bob@" + onion)!
        let key1 = [UInt8](repeating: 1, count: 32)
        let key2 = [UInt8](repeating: 2, count: 32)
        var store = TrustStore(directory: dir)
        XCTAssertEqual(store.verdict(for: short, fingerprint: key1), .firstUse)
        store.recordDelivery(to: short, fingerprint: key1, recipients: ["bob"], now: 100)
        try store.save()

        let reloaded = TrustStore(directory: dir)
        XCTAssertEqual(reloaded.verdict(for: short, fingerprint: key1), .matchesPin)
        XCTAssertEqual(reloaded.verdict(for: short, fingerprint: key2), .pinMismatch(pinned: Base32.encode(key1)))
        // The address book has the full form of the short address.
        XCTAssertEqual(reloaded.fullForm(of: short)?.text, "bob@" + Base32.encode(key1) + "." + onion)
        XCTAssertEqual(reloaded.contacts.count, 1)
        // A label decides on its own, and a matching one refreshes the pin.
        var store2 = reloaded
        let full2 = short.upgraded(fingerprint: key2)
        XCTAssertEqual(store2.verdict(for: full2, fingerprint: key2), .matchesLabel)
        XCTAssertEqual(store2.verdict(for: full2, fingerprint: key1), .labelMismatch)
        store2.recordDelivery(to: full2, fingerprint: key2, recipients: ["bob"], now: 200)
        XCTAssertEqual(store2.verdict(for: short, fingerprint: key2), .matchesPin)
    }

    func testMalformedLinesAreSkipped() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "# comment\ngarbage\n\(onion) \(String(repeating: "a", count: 52)) 5\nx y z w\n"
            .write(toFile: dir + "/pins", atomically: true, encoding: .utf8)
        let store = TrustStore(directory: dir)
        XCTAssertEqual(store.pins.count, 1)
        XCTAssertEqual(store.skippedLines, 2)
    }

    func testEarlyHelloSendsEHLOBeforeTheGreeting() {
        var session = ClientSession(configuration: ClientConfiguration(heloName: "me.onion", earlyHello: true))
        let first = session.receive(.ready)
        XCTAssertEqual(first.first, .send(Array("EHLO me.onion\r\n".utf8)))
        // The greeting asks for nothing more; the EHLO reply then leads to QUIT (no message).
        XCTAssertFalse(session.receive(.line(Array("220 x.onion ESMTP\r".utf8))).contains { if case .send = $0 { return true } else { return false } })
        _ = session.receive(.finish)
        let afterHello = session.receive(.line(Array("250 x.onion\r".utf8)))
        XCTAssertTrue(afterHello.contains(.send(Array("QUIT\r\n".utf8))))
        // A refused greeting still refuses the session.
        var refused = ClientSession(configuration: ClientConfiguration(heloName: "me.onion", earlyHello: true))
        _ = refused.receive(.ready)
        let effects = refused.receive(.line(Array("554 go away\r".utf8)))
        XCTAssertFalse(effects.contains(.send(Array("EHLO me.onion\r\n".utf8))))
    }
}
