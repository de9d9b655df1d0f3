// QueueStoreTests.swift: the durable outbound queue on a real file system:
// enqueue and scan, state round trips, incomplete message files (cut at
// every length, wrong size, no trailer, garbage) moved aside and never
// delivered, recovery of a message without state, clean-up of temporary
// and orphan files, removal, ids, permissions.
import Foundation
import XCTest
@testable import SMTorP
import SMTorPCore

/// A valid onion host name for sample `n`: the public key of the Ed25519
/// seed (n, n, ...), so that it is a real curve point as Tor requires.
func sampleOnion(_ n: UInt8) -> String {
    var publicKey = [UInt8](repeating: 0, count: 32)
    precondition(smtorp_ed25519_public_key([UInt8](repeating: n, count: 32), &publicKey) == SMTORP_OK)
    return (try! OnionAddress(publicKey: publicKey)).hostname
}

/// `local@<onion n>`.
func sampleMailbox(_ local: String, _ n: UInt8, label: String? = nil) -> Mailbox {
    Mailbox(localPart: local, domain: (label.map { $0 + "." } ?? "") + sampleOnion(n))
}

final class QueueStoreTests: XCTestCase {
    var root = ""
    var directory: String { root + "/queue" }

    override func setUpWithError() throws {
        root = NSTemporaryDirectory() + "smtorp-queue-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: root)
    }

    let text = Array("From: alice\r\nSubject: hi\r\n\r\nbody\r\n".utf8)
    let now: Int64 = 1_790_000_000

    func names(_ sub: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory + "/" + sub)) ?? []).sorted()
    }

    func testEnqueueThenScanFindsItAllPending() throws {
        let store = try QueueStore(directory: directory)
        let sender = sampleMailbox("alice", 1)
        let recipients = [sampleMailbox("bob", 2), sampleMailbox("carol", 3), sampleMailbox("dave", 2)]
        let id = try store.enqueue(reversePath: sender, recipients: recipients, message: text, now: now)
        XCTAssertEqual(names("msg"), [id.text])
        XCTAssertEqual(names("state"), [], "a new message has no state file: it is all pending")
        XCTAssertEqual(names("tmp"), [])

        // A fresh store (a restart) finds the same thing: start-up is a scan.
        let scan = try QueueStore(directory: directory).scan(now: now)
        XCTAssertEqual(scan.corrupt, [])
        XCTAssertEqual(scan.failures, [])
        XCTAssertEqual(scan.entries.count, 1)
        let entry = scan.entries[0]
        XCTAssertEqual(entry.id, id)
        XCTAssertEqual(entry.arrival, now)
        XCTAssertEqual(entry.reversePath?.text, sender.text)
        XCTAssertEqual(entry.recipients.map { $0.text }, recipients.map { $0.text })
        XCTAssertEqual(entry.size, text.count)
        XCTAssertEqual(entry.states, Array(repeating: RecipientState.pending(arrival: now), count: 3))
        XCTAssertEqual(try store.message(id), text)
        XCTAssertEqual(try store.load(id), entry)
    }

    func testNullSenderAndMessageBytesRoundTrip() throws {
        let store = try QueueStore(directory: directory)
        // Text that looks like the file's own structure must not confuse it.
        var message = Array("X: y\r\n\r\nEND 5\n\nsize 3\nrcpt <a@b>\n".utf8)
        message += (0...255).map { UInt8($0) }
        let id = try store.enqueue(reversePath: nil, recipients: [sampleMailbox("bob", 2)], message: message, now: now)
        let entry = try XCTUnwrap(store.scan(now: now).entries.first)
        XCTAssertNil(entry.reversePath)
        XCTAssertEqual(try QueueStore(directory: directory).message(id), message)
        let empty = try store.enqueue(reversePath: nil, recipients: [sampleMailbox("bob", 2)], message: [], now: now)
        XCTAssertEqual(try store.message(empty), [])
    }

    func testStateUpdateRoundTrips() throws {
        let store = try QueueStore(directory: directory)
        let id = try store.enqueue(reversePath: sampleMailbox("alice", 1),
                                   recipients: [sampleMailbox("bob", 2), sampleMailbox("carol", 3), sampleMailbox("dave", 4),
                                                sampleMailbox("erin", 5)],
                                   message: text, now: now)
        let states = [
            RecipientState(status: .delivered, attempts: 1, nextAttempt: now, lastAttempt: now + 5,
                           statusCode: EnhancedStatusCode(2, 0, 0), reply: "250 2.0.0 Ok: queued as X",
                           reason: "the server replied 250 2.0.0 Ok: queued as X"),
            RecipientState(status: .deferred, attempts: 3, nextAttempt: now + 1200, lastAttempt: now + 60,
                           statusCode: EnhancedStatusCode(4, 4, 1), reply: "",
                           reason: "tor could not\r\nreach\tthe destination\u{0}", delayWarned: true),
            RecipientState(status: .failed, attempts: 1, nextAttempt: now, lastAttempt: now + 7,
                           statusCode: EnhancedStatusCode(5, 1, 1), reply: "550 5.1.1 Mailbox unavailable",
                           reason: "the server replied 550 5.1.1 Mailbox unavailable", failureReported: true),
            RecipientState.pending(arrival: now),
        ]
        try store.update(id, states: states)
        XCTAssertEqual(names("state"), [id.text])
        let read = try XCTUnwrap(QueueStore(directory: directory).scan(now: now).entries.first).states
        XCTAssertEqual(read, states)
        XCTAssertEqual(read[1].reason, "tor could not  reach the destination", "one line, no CR/LF/TAB/NUL")
        // Replaced, not appended; and the old state is gone whole.
        var next = states
        next[1].status = .delivered
        try store.update(id, states: next)
        XCTAssertEqual(try store.load(id).states, next)
        XCTAssertEqual(names("tmp"), [], "the temporary state file was renamed into place")
        XCTAssertThrowsError(try store.update(id, states: [RecipientState.pending(arrival: now)])) { error in
            XCTAssertEqual(error as? QueueError, .stateMismatch(id))
        }
    }

    func testMessageWithoutStateIsAllPending() throws {
        let store = try QueueStore(directory: directory)
        let id = try store.enqueue(reversePath: sampleMailbox("alice", 1), recipients: [sampleMailbox("bob", 2)],
                                   message: text, now: now)
        try store.update(id, states: [RecipientState(status: .deferred, attempts: 2, nextAttempt: now + 600)])
        // As after a crash between enqueue and the first state write.
        try FileManager.default.removeItem(atPath: directory + "/state/" + id.text)
        let entry = try XCTUnwrap(QueueStore(directory: directory).scan(now: now).entries.first)
        XCTAssertEqual(entry.states, [RecipientState.pending(arrival: now)])
    }

    func testDamagedStateFileIsMovedAsideAndTheMessageIsAllPending() throws {
        let store = try QueueStore(directory: directory)
        let id = try store.enqueue(reversePath: sampleMailbox("alice", 1), recipients: [sampleMailbox("bob", 2)],
                                   message: text, now: now)
        try store.update(id, states: [RecipientState(status: .deferred, attempts: 2, nextAttempt: now + 600)])
        let path = directory + "/state/" + id.text
        let good = try Data(contentsOf: URL(fileURLWithPath: path))
        for bad in [Data(), good.prefix(good.count - 1), good + Data("x\n".utf8),
                    Data(String(decoding: good, as: UTF8.self).replacingOccurrences(of: "deferred", with: "wat").utf8),
                    Data(String(decoding: good, as: UTF8.self).replacingOccurrences(of: "\t2\t", with: "\t-2\t").utf8)] {
            try bad.write(to: URL(fileURLWithPath: path))
            let result = try QueueStore(directory: directory).scan(now: now)
            XCTAssertEqual(result.corrupt.map { $0.name }, [id.text + ".state"])
            XCTAssertEqual(result.entries.map { $0.states }, [[RecipientState.pending(arrival: now)]])
            XCTAssertEqual(names("state"), [])
            XCTAssertEqual(names("corrupt"), [id.text + ".state"])
            XCTAssertEqual(names("msg"), [id.text], "the message stays deliverable")
            try FileManager.default.removeItem(atPath: directory + "/corrupt/" + id.text + ".state")
        }
    }

    func testIncompleteMessageFilesAreMovedAsideAndNeverDelivered() throws {
        let store = try QueueStore(directory: directory)
        let id = try store.enqueue(reversePath: sampleMailbox("alice", 1),
                                   recipients: [sampleMailbox("bob", 2), sampleMailbox("carol", 3)],
                                   message: text, now: now)
        let path = directory + "/msg/" + id.text
        let good = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        let header = String(decoding: good, as: UTF8.self)
        func replacing(_ a: String, _ b: String) -> [UInt8] {
            Array(header.replacingOccurrences(of: a, with: b).utf8)
        }
        var damaged: [(String, [UInt8])] = []
        // Cut short at every length: not one of them may be delivered.
        for length in 0..<good.count { damaged.append(("cut at \(length)", Array(good.prefix(length)))) }
        damaged += [
            ("size too large", replacing("size \(text.count)\n", "size \(text.count + 1)\n")),
            ("size too small", replacing("size \(text.count)\n", "size \(text.count - 1)\n")),
            ("no trailer", Array(good.dropLast("END \(text.count)\n".utf8.count))),
            ("trailer without LF", Array(good.dropLast())),
            ("extra bytes", good + Array("x".utf8)),
            ("wrong trailer size", replacing("END \(text.count)\n", "END 1\n")),
            ("garbage", Array("hello world\n\nbody".utf8)),
            ("binary", [0, 1, 2, 0xFF, 0x0A]),
            ("other version", replacing("smtorp-queue 1\n", "smtorp-queue 2\n")),
            ("other id", replacing("id " + id.text, "id 00000000000000000000000000")),
            ("no recipients", Array(header.components(separatedBy: "\n").filter { !$0.hasPrefix("rcpt") }
                .joined(separator: "\n").utf8)),
            ("bad path", replacing("rcpt <bob@", "rcpt <bob @")),
            ("negative time", replacing("created \(now)", "created -\(now)")),
            ("no blank line", replacing("size \(text.count)\n\n", "size \(text.count)\n")),
        ]
        for (label, bytes) in damaged {
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let fresh = try QueueStore(directory: directory)
            let scan = fresh.scan(now: now)
            XCTAssertEqual(scan.entries, [], label)
            XCTAssertEqual(scan.corrupt.map { $0.name }, [id.text], label)
            XCTAssertEqual(names("msg"), [], label)
            XCTAssertEqual(names("corrupt"), [id.text], label)
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: directory + "/corrupt/" + id.text)), Data(bytes),
                           label + ": moved aside as it was")
            XCTAssertEqual(fresh.scan(now: now).corrupt, [], label + ": reported once")
            try FileManager.default.removeItem(atPath: directory + "/corrupt/" + id.text)
        }
        // The good file still parses (the checks above are not vacuous).
        try Data(good).write(to: URL(fileURLWithPath: path))
        XCTAssertEqual(try QueueStore(directory: directory).scan(now: now).entries.count, 1)
    }

    func testMessageDamagedAfterScanIsNeverSent() throws {
        let store = try QueueStore(directory: directory)
        let id = try store.enqueue(reversePath: nil, recipients: [sampleMailbox("bob", 2)], message: text, now: now)
        try store.update(id, states: [RecipientState(status: .deferred, attempts: 1, nextAttempt: now)])
        XCTAssertEqual(store.scan(now: now).entries.count, 1)
        let path = directory + "/msg/" + id.text
        let good = try Data(contentsOf: URL(fileURLWithPath: path))
        try good.prefix(good.count - 3).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try store.message(id)) { error in
            guard case .corrupt(let bad, _)? = error as? QueueError else { return XCTFail("\(error)") }
            XCTAssertEqual(bad, id)
        }
        XCTAssertEqual(names("msg"), [])
        XCTAssertEqual(names("state"), [])
        XCTAssertEqual(names("corrupt"), [id.text, id.text + ".state"])
        XCTAssertEqual(store.scan(now: now).entries, [])
    }

    func testUnknownNamesInMessageDirectoryAreMovedAside() throws {
        let store = try QueueStore(directory: directory)
        try Data("x".utf8).write(to: URL(fileURLWithPath: directory + "/msg/notes.txt"))
        let scan = store.scan(now: now)
        XCTAssertEqual(scan.corrupt, [QueueScan.Corrupt(name: "notes.txt", reason: "not a queue id")])
        XCTAssertEqual(names("corrupt"), ["notes.txt"])
    }

    func testListChangesNothing() throws {
        let store = try QueueStore(directory: directory)
        let id = try store.enqueue(reversePath: nil, recipients: [sampleMailbox("bob", 2)], message: text, now: now)
        let other = try store.enqueue(reversePath: nil, recipients: [sampleMailbox("bob", 2)], message: text, now: now)
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: directory + "/msg/" + other.text))
        let stale = QueueID(unixSeconds: now - 7200, sequence: 0, random: [1, 2, 3, 4, 5, 6, 7, 8])
        try Data().write(to: URL(fileURLWithPath: directory + "/tmp/" + stale.text))
        let listed = try QueueStore(directory: directory).list()
        XCTAssertEqual(listed.entries.map { $0.id }, [id])
        XCTAssertEqual(listed.corrupt.map { $0.name }, [other.text])
        XCTAssertEqual(names("msg"), [id.text, other.text].sorted())
        XCTAssertEqual(names("tmp"), [stale.text])
        let text = QueueListing.render(listed, now: now)
        XCTAssertTrue(text.contains(id.text), text)
        XCTAssertTrue(text.contains("damaged queue file " + other.text), text)
    }

    func testLeftoverTemporaryFilesAreIgnoredAndCleaned() throws {
        let store = try QueueStore(directory: directory)
        let id = try store.enqueue(reversePath: nil, recipients: [sampleMailbox("bob", 2)], message: text, now: now)
        let old = QueueID(unixSeconds: now - QueueStore.temporaryFileGrace, sequence: 0, random: [1, 2, 3, 4, 5, 6, 7, 8])
        let fresh = QueueID(unixSeconds: now - 10, sequence: 0, random: [1, 2, 3, 4, 5, 6, 7, 8])
        for name in [old.text, old.text + ".state", fresh.text, fresh.text + ".state", "junk", fresh.text + ".x"] {
            try Data("smtorp-queue 1\nhalf a file".utf8).write(to: URL(fileURLWithPath: directory + "/tmp/" + name))
        }
        let scan = store.scan(now: now)
        XCTAssertEqual(scan.entries.map { $0.id }, [id], "files in tmp/ are never queue entries")
        XCTAssertEqual(scan.corrupt, [])
        XCTAssertEqual(names("tmp"), [fresh.text, fresh.text + ".state"].sorted(),
                       "old and unknown files removed; a young one may be another process's enqueue")
        XCTAssertEqual(store.scan(now: now + QueueStore.temporaryFileGrace).failures, [])
        XCTAssertEqual(names("tmp"), [])
    }

    func testRemoveDeletesMessageThenStateAndOrphanStatesAreCleaned() throws {
        let store = try QueueStore(directory: directory)
        let id = try store.enqueue(reversePath: nil, recipients: [sampleMailbox("bob", 2)], message: text, now: now)
        let keep = try store.enqueue(reversePath: nil, recipients: [sampleMailbox("bob", 2)], message: text, now: now)
        try store.update(id, states: [RecipientState(status: .delivered, attempts: 1, nextAttempt: now)])
        try store.remove(id)
        XCTAssertEqual(names("msg"), [keep.text])
        XCTAssertEqual(names("state"), [])
        XCTAssertThrowsError(try store.load(id)) { XCTAssertEqual($0 as? QueueError, .notFound(id)) }
        XCTAssertThrowsError(try store.message(id)) { XCTAssertEqual($0 as? QueueError, .notFound(id)) }
        XCTAssertEqual(store.scan(now: now).entries.map { $0.id }, [keep])

        // A crash between the two removals leaves a state file alone: it is
        // never delivered, and the next scan deletes it.
        try Data(QueueStateFile.render(id: id, states: [.pending(arrival: now)]))
            .write(to: URL(fileURLWithPath: directory + "/state/" + id.text))
        let scan = try QueueStore(directory: directory).scan(now: now)
        XCTAssertEqual(scan.entries.map { $0.id }, [keep])
        XCTAssertEqual(names("state"), [])
        XCTAssertNoThrow(try store.remove(id), "removing twice is fine")
    }

    func testIdsAreUniqueOrderedAndFileSystemSafe() throws {
        let store = try QueueStore(directory: directory)
        var ids: [QueueID] = []
        for second in [now, now, now, now + 1, now + 1, now - 5, now + 2] {  // the clock may step back
            for _ in 0..<200 { ids.append(try store.makeID(now: second)) }
        }
        XCTAssertEqual(Set(ids).count, ids.count)
        XCTAssertEqual(ids, ids.sorted(), "made in order, sorted in order")
        XCTAssertEqual(ids.map { $0.text }, ids.map { $0.text }.sorted(), "as plain strings too")
        XCTAssertEqual(ids[0].unixSeconds, now)
        XCTAssertEqual(ids.last?.unixSeconds, now + 2)
        for id in ids.prefix(50) {
            XCTAssertEqual(id.text.utf8.count, 26)
            XCTAssertTrue(id.text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x76).contains($0) })
            XCTAssertEqual(QueueID(text: id.text), id)
        }
        // Two stores (two processes) in one second: still unique.
        let other = try QueueStore(directory: directory)
        XCTAssertFalse(ids.contains(try other.makeID(now: now)))
        for bad in ["", "short", ids[0].text.uppercased(), ids[0].text + "0", String(ids[0].text.dropLast()) + "1",
                    "wwwwwwwwwwwwwwwwwwwwwwwwww", "../../../../../etc/passwd0"] {
            XCTAssertNil(QueueID(text: bad), bad)
        }
    }

    func testPermissions() throws {
        let store = try QueueStore(directory: directory)
        let id = try store.enqueue(reversePath: nil, recipients: [sampleMailbox("bob", 2)], message: text, now: now)
        try store.update(id, states: [.pending(arrival: now)])
        func mode(_ path: String) throws -> Int {
            (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue ?? -1
        }
        for dir in ["", "/msg", "/state", "/tmp", "/corrupt"] {
            XCTAssertEqual(try mode(directory + dir), 0o700, "directory" + dir)
        }
        XCTAssertEqual(try mode(directory + "/msg/" + id.text), 0o600)
        XCTAssertEqual(try mode(directory + "/state/" + id.text), 0o600)
    }

    func testEnqueueRefusals() throws {
        let store = try QueueStore(directory: directory, maximumMessageSize: 100)
        let bob = sampleMailbox("bob", 2)
        func refusal(_ sender: Mailbox?, _ recipients: [Mailbox], _ message: [UInt8]) -> QueueError? {
            do throws(QueueError) {
                _ = try store.enqueue(reversePath: sender, recipients: recipients, message: message, now: now)
                return nil
            } catch {
                return error
            }
        }
        XCTAssertEqual(refusal(nil, [], text), .noRecipients)
        XCTAssertEqual(refusal(nil, [bob], [UInt8](repeating: 0x41, count: 101)), .messageTooLarge(101))
        XCTAssertNil(refusal(nil, [bob], [UInt8](repeating: 0x41, count: 100)))
        XCTAssertEqual(refusal(nil, Array(repeating: bob, count: QueueStore.maximumRecipients + 1), text),
                       .tooManyRecipients(QueueStore.maximumRecipients + 1))
        XCTAssertEqual(refusal(nil, [Mailbox(localPart: "bob", domain: "example.org")], text),
                       .recipientNotSMTorP("bob@example.org"))
        XCTAssertEqual(refusal(nil, [Mailbox(localPart: "bob", domain: "aaaa.onion")], text),
                       .recipientNotSMTorP("bob@aaaa.onion"))
        // A CR/LF in a mailbox would add a line to the file: refused.
        guard case .invalidMailbox? = refusal(nil, [Mailbox(localPart: "bob\r\nrcpt <x@y>", domain: sampleOnion(2))], text)
        else { return XCTFail("a mailbox with CRLF was accepted") }
        guard case .invalidMailbox? = refusal(Mailbox(localPart: "a\nb", domain: sampleOnion(1)), [bob], text)
        else { return XCTFail("a sender with LF was accepted") }
        XCTAssertEqual(names("msg").count, 1)
        XCTAssertEqual(names("tmp"), [])
        // Quoted local parts and fingerprint labels round-trip.
        let quoted = Mailbox(localPart: "john smith", domain: sampleOnion(2))
        let labelled = sampleMailbox("bob", 2, label: "abcdefghijklmnop")
        let id = try store.enqueue(reversePath: quoted, recipients: [quoted, labelled], message: text, now: now)
        let entry = try store.load(id)
        XCTAssertEqual(entry.recipients.map { $0.text }, ["\"john smith\"@" + sampleOnion(2), labelled.text])
    }

    func testListingShowsStatusReasonAndNextAttempt() throws {
        let store = try QueueStore(directory: directory)
        let id = try store.enqueue(reversePath: sampleMailbox("alice", 1),
                                   recipients: [sampleMailbox("bob", 2), sampleMailbox("carol", 3), sampleMailbox("dave", 4)],
                                   message: text, now: now)
        try store.update(id, states: [
            RecipientState(status: .deferred, attempts: 2, nextAttempt: now + 600, lastAttempt: now,
                           reason: "onion service descriptor not found"),
            RecipientState(status: .failed, attempts: 1, nextAttempt: now, reason: "the server replied 550 5.1.1 No"),
            RecipientState(status: .delivered, attempts: 1, nextAttempt: now),
        ])
        let text = QueueListing.render(store.list(), now: now)
        XCTAssertTrue(text.contains(id.text + "        \(self.text.count) " + UTCDate(unixSeconds: now).rfc5322
                                    + "  alice@" + sampleOnion(1)), text)
        XCTAssertTrue(text.contains("deferred  bob@"), text)
        XCTAssertTrue(text.contains("(onion service descriptor not found)"), text)
        XCTAssertTrue(text.contains("2 attempts, next in 10 minutes"), text)
        XCTAssertTrue(text.contains("failed    carol@"), text)
        XCTAssertTrue(text.contains("delivered dave@"), text)
        XCTAssertTrue(text.contains("-- 1 Kbytes in 1 Request."), text)
        try store.remove(id)
        XCTAssertEqual(QueueListing.render(store.list(), now: now), "Mail queue is empty\n")
    }

    func testCoreListAndReplaceFunctions() throws {
        var buffer: UnsafeMutablePointer<UInt8>? = nil
        var length = 99
        XCTAssertEqual(smtorp_fs_list_directory(root + "/missing", &buffer, &length), SMTORP_ERR_IO)
        XCTAssertNil(buffer)
        XCTAssertEqual(length, 0)
        XCTAssertEqual(try QueueFileSystem.list(root), [])
        let names = (0..<300).map { "file-\($0)-" + String(repeating: "x", count: $0 % 40) }
        for name in names { XCTAssertTrue(FileManager.default.createFile(atPath: root + "/" + name, contents: nil)) }
        XCTAssertEqual(try QueueFileSystem.list(root), names.sorted())

        let target = root + "/state"
        try QueueFileSystem.replace(path: target, temporaryPath: root + "/state.tmp", bytes: Array("one".utf8))
        // A stale temporary file from a crash does not stop the next replace.
        XCTAssertTrue(FileManager.default.createFile(atPath: root + "/state.tmp", contents: Data("stale".utf8)))
        try QueueFileSystem.replace(path: target, temporaryPath: root + "/state.tmp", bytes: Array("two".utf8))
        XCTAssertEqual(try String(contentsOfFile: target, encoding: .utf8), "two")
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/state.tmp"))
        XCTAssertThrowsError(try QueueFileSystem.replace(path: root + "/no/such/dir/x",
                                                         temporaryPath: root + "/no/such/x.tmp", bytes: []))
        try QueueFileSystem.rename(target, to: root + "/moved")
        XCTAssertFalse(FileManager.default.fileExists(atPath: target))
        try QueueFileSystem.removeDurably(root + "/moved")
        try QueueFileSystem.removeDurably(root + "/moved")
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/moved"))
    }
}
