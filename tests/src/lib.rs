//! `tanba-e2e`: end-to-end tests that cross the parts of Tanba (service,
//! printer agent, mobile SDK), each against the real thing: the service is
//! started in-process on a random port with a fresh database, and nothing we
//! own is mocked. The tests live in `tests/tests/`; this library is empty.
