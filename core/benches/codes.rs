//! Throughput of the code path every scan and every emission runs through:
//! parse, sign, verify, batch verify — each next to the bare ed25519-dalek
//! operation it wraps, measured in the same run, so `BENCHMARKS.md` can say
//! what our own layers cost on top of the cryptography.
//!
//! Run: `cargo bench -p tanba-core --bench codes`. Criterion reports time per
//! iteration; throughput is set so it also prints elements per second.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use ed25519_dalek::{Signer as _, SigningKey};
use rand::SeedableRng;
use std::hint::black_box;
use tanba_core::crypto::{EmissionKey, Keyring};
use tanba_core::{Gtin, KeyId, MarkingCode, Serial};

const BATCH: usize = 1024;

fn codes(key: &EmissionKey, n: usize) -> Vec<MarkingCode> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let gtin = Gtin::parse("04652352262009").expect("valid GTIN");
    (0..n)
        .map(|_| key.sign(MarkingCode::new(gtin.clone(), Serial::generate(&mut rng))))
        .collect()
}

fn benches(c: &mut Criterion) {
    let key = EmissionKey::from_seed(KeyId::parse("TZ01").expect("key id"), &[7; 32]);
    let mut ring = Keyring::new();
    ring.insert(key.public());
    let signed = codes(&key, BATCH);
    let raw: Vec<String> = signed.iter().map(MarkingCode::element_string).collect();
    let scanned: Vec<String> = raw.iter().map(|s| format!("]d2{s}\n")).collect();

    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Elements(1));
    g.bench_function("element_string", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % BATCH;
            tanba_core::parse(black_box(&raw[i]))
        })
    });
    g.bench_function("scanner_output_with_]d2", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % BATCH;
            tanba_core::parse(black_box(&scanned[i]))
        })
    });
    g.bench_function("digital_link", |b| {
        let links: Vec<String> = signed
            .iter()
            .map(|c| c.digital_link("https://id.tanba.kz"))
            .collect();
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % BATCH;
            tanba_core::parse(black_box(&links[i]))
        })
    });
    g.finish();

    let mut g = c.benchmark_group("sign");
    g.throughput(Throughput::Elements(1));
    g.bench_function("tanba_sign_code", |b| {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let gtin = Gtin::parse("04652352262009").expect("valid GTIN");
        b.iter_batched(
            || MarkingCode::new(gtin.clone(), Serial::generate(&mut rng)),
            |code| key.sign(code),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("bare_ed25519_dalek_sign", |b| {
        let sk = SigningKey::from_bytes(&[7; 32]);
        let msg = signed[0].signed_bytes();
        b.iter(|| sk.sign(black_box(msg.as_bytes())))
    });
    g.finish();

    let mut g = c.benchmark_group("verify");
    g.throughput(Throughput::Elements(1));
    g.bench_function("tanba_verify_code", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % BATCH;
            ring.verify(black_box(&signed[i]))
        })
    });
    g.bench_function("bare_ed25519_dalek_verify", |b| {
        let sk = SigningKey::from_bytes(&[7; 32]);
        let vk = sk.verifying_key();
        let msg = signed[0].signed_bytes();
        let sig = sk.sign(msg.as_bytes());
        b.iter(|| vk.verify_strict(black_box(msg.as_bytes()), black_box(&sig)))
    });
    g.finish();

    let mut g = c.benchmark_group("verify_batch");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("tanba_verify_batch_1024", |b| {
        b.iter(|| ring.verify_batch(black_box(&signed)))
    });
    g.bench_function("bare_ed25519_dalek_verify_batch_1024", |b| {
        let sk = SigningKey::from_bytes(&[7; 32]);
        let msgs: Vec<String> = signed.iter().map(MarkingCode::signed_bytes).collect();
        let refs: Vec<&[u8]> = msgs.iter().map(|m| m.as_bytes()).collect();
        let sigs: Vec<_> = refs.iter().map(|m| sk.sign(m)).collect();
        let keys = vec![sk.verifying_key(); BATCH];
        b.iter(|| ed25519_dalek::verify_batch(black_box(&refs), &sigs, &keys))
    });
    g.finish();
}

criterion_group!(name = codes_group; config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(4)); targets = benches);
criterion_main!(codes_group);
