@_exported import StrataStorage

/// Strata's event-sourcing layer. For now it re-exports the storage engine; typed events, aggregates,
/// commands and projections arrive with the event-sourcing issue.
public enum StrataVersion {
    public static let string = "0.1.0-dev"
}
