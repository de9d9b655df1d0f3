// UTCDate.swift: RFC 5322 §3.3 date-time in UTC, from Unix seconds, with no
// dependence on the local time zone (which would tell where the node is).

/// A calendar date and time in UTC.
public struct UTCDate: Equatable, Sendable {
    public let year: Int, month: Int, day: Int
    public let hour: Int, minute: Int, second: Int
    /// 0 = Sunday.
    public let weekday: Int

    /// Converts seconds since 1970-01-01T00:00:00Z.
    public init(unixSeconds: Int64) {
        var days = unixSeconds / 86_400
        var rest = unixSeconds % 86_400
        if rest < 0 { rest += 86_400; days -= 1 }
        hour = Int(rest / 3600)
        minute = Int(rest % 3600 / 60)
        second = Int(rest % 60)
        weekday = Int(((days % 7) + 11) % 7)  // 1970-01-01 was a Thursday (4)
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        year = Int(yoe + era * 400 + (m <= 2 ? 1 : 0))
        month = Int(m)
        day = Int(d)
    }

    /// "Sun, 29 Nov 2026 13:05:09 +0000" (RFC 5322 §3.3).
    public var rfc5322: String {
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun",
                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        return days[weekday] + ", " + String(day) + " " + months[month - 1] + " "
            + String(year) + " " + Self.two(hour) + ":" + Self.two(minute) + ":"
            + Self.two(second) + " +0000"
    }

    static func two(_ v: Int) -> String { v < 10 ? "0" + String(v) : String(v) }
}
