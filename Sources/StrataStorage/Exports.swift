// The vocabulary every Strata module shares (keys, ids, records, the borrowed event view, expected versions,
// snapshot subjects, observability): an engine user who imports StrataStorage needs it to say anything.
@_exported import StrataCore
