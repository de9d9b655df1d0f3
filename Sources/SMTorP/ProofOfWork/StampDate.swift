// StampDate.swift: the UTC date of a stamp, `YYYYMMDDhhmm`, to the minute.
//
// Untrusted input: the date field of stamps received in RCPT commands;
// anything but a valid calendar date in 1970 ... 9999 is refused.

/// A UTC date to the minute, as written in a stamp.
public struct StampDate: Equatable, Comparable, Sendable {
    /// Seconds since 1970-01-01T00:00:00Z, a multiple of 60.
    public let unixSeconds: Int64

    /// The date of `unixSeconds`, rounded down to the minute.
    public init(unixSeconds: Int64) {
        let minutes = unixSeconds >= 0 ? unixSeconds / 60 : (unixSeconds - 59) / 60
        self.unixSeconds = minutes * 60
    }

    /// Parses exactly 12 digits `YYYYMMDDhhmm` naming a real UTC minute.
    public init?(text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count == 12,
              bytes.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        func number(_ from: Int, _ count: Int) -> Int64 {
            var value: Int64 = 0
            for b in bytes[from..<(from + count)] { value = value * 10 + Int64(b - UInt8(ascii: "0")) }
            return value
        }
        let year = number(0, 4), month = number(4, 2), day = number(6, 2)
        let hour = number(8, 2), minute = number(10, 2)
        guard year >= 1970, month >= 1, month <= 12, day >= 1,
              day <= Self.daysInMonth(year: year, month: month),
              hour <= 23, minute <= 59 else { return nil }
        unixSeconds = Self.daysFromCivil(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60
    }

    /// The date as written in a stamp.
    public var text: String {
        let date = UTCDate(unixSeconds: unixSeconds)
        var year = String(date.year)
        while year.utf8.count < 4 { year = "0" + year }
        return year + UTCDate.two(date.month) + UTCDate.two(date.day) + UTCDate.two(date.hour)
            + UTCDate.two(date.minute)
    }

    /// Orders dates in time.
    public static func < (a: StampDate, b: StampDate) -> Bool { a.unixSeconds < b.unixSeconds }

    static func daysInMonth(year: Int64, month: Int64) -> Int64 {
        switch month {
        case 2:
            let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
            return leap ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Howard Hinnant's days_from_civil (the inverse of UTCDate's).
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = month > 2 ? month - 3 : month + 9
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}
