// The vocabulary every Strata module shares (keys, ids, records, the borrowed event view, expected versions,
// snapshot subjects, observability). The engine (`StrataStorage`) is not re-exported: engine users import it.
@_exported import StrataCore

/// Strata's version.
public enum StrataVersion {
    /// The version as text.
    public static let string = "0.1.0-dev"
}
