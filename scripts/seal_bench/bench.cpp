// SEAL counterpart of `cryptogen bench he --json --sets paper` (one thread,
// medians of up to 201 repetitions or ~0.4 s, after one warm-up call, as
// src/cli/bench_he.c does). Same n, same prime sizes ({44,44,44,43} + special
// {43}), same plaintext modulus. Built and run by scripts/bench_seal.sh.
#include <seal/seal.h>
#include <seal/util/ntt.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

using namespace seal;

static uint64_t now_ns()
{
    return (uint64_t)std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

static double median_us(const std::function<void()> &fn)
{
    std::vector<uint64_t> t;
    uint64_t start = now_ns();
    fn(); // warm-up
    while (t.size() < 201 && (t.size() < 5 || now_ns() - start < 400000000ull)) {
        uint64_t a = now_ns();
        fn();
        t.push_back(now_ns() - a);
    }
    std::sort(t.begin(), t.end());
    return (double)t[t.size() / 2] / 1000.0;
}

int main()
{
    const size_t n = 8192;
    const uint64_t t_mod = 536690689; // cryptogen's paper-set t (29 bits, 1 mod 2n)
    EncryptionParameters parms(scheme_type::bfv);
    parms.set_poly_modulus_degree(n);
    parms.set_coeff_modulus(CoeffModulus::Create(n, {44, 44, 44, 43, 43}));
    parms.set_plain_modulus(t_mod);
    SEALContext ctx(parms, true, sec_level_type::tc128);
    if (!ctx.parameters_set()) {
        std::fprintf(stderr, "seal_bench: %s\n", ctx.parameter_error_message());
        return 1;
    }
    KeyGenerator keygen(ctx);
    SecretKey sk = keygen.secret_key();
    PublicKey pk;
    keygen.create_public_key(pk);
    RelinKeys rk;
    keygen.create_relin_keys(rk);
    GaloisKeys gk;
    keygen.create_galois_keys(std::vector<int>{1}, gk);
    Encryptor enc(ctx, pk, sk);
    Decryptor dec(ctx, sk);
    Evaluator ev(ctx);
    BatchEncoder be(ctx);

    std::mt19937_64 rng(1);
    std::vector<uint64_t> vals(n), poly(n);
    const auto &q0 = ctx.first_context_data()->parms().coeff_modulus()[0];
    for (size_t i = 0; i < n; i++) {
        vals[i] = rng() % t_mod;
        poly[i] = rng() % q0.value();
    }
    Plaintext pt, pt2, ptn;
    be.encode(vals, pt);
    Ciphertext ct, ct2, ctn, out, tmp;
    enc.encrypt(pt, ct);
    enc.encrypt(pt, ct2);
    ctn = ct;
    ev.transform_to_ntt_inplace(ctn);
    const auto first = ctx.first_parms_id();
    ev.transform_to_ntt(pt, first, ptn);
    const auto &ntt0 = ctx.first_context_data()->small_ntt_tables()[0];

    std::vector<std::pair<std::string, double>> r;
    auto run = [&](const char *name, const std::function<void()> &fn) { r.emplace_back(name, median_us(fn)); };
    run("ntt_forward_one_prime", [&] { util::ntt_negacyclic_harvey(poly.data(), ntt0); });
    run("ntt_inverse_one_prime", [&] { util::inverse_ntt_negacyclic_harvey(poly.data(), ntt0); });
    run("encrypt_pk", [&] { enc.encrypt(pt, out); });
    run("encrypt_sk", [&] { enc.encrypt_symmetric(pt, out); });
    run("decrypt", [&] { dec.decrypt(ct, pt2); });
    run("batch_encode", [&] { be.encode(vals, pt2); });
    run("batch_decode", [&] { be.decode(pt, vals); });
    run("add", [&] { ev.add(ct, ct2, out); });
    run("plain_to_ntt", [&] { ev.transform_to_ntt(pt, first, ptn); });
    run("mul_plain_ntt", [&] { ev.multiply_plain(ctn, ptn, out); });
    run("multiply", [&] { ev.multiply(ct, ct2, out); });
    run("multiply_relinearize", [&] {
        ev.multiply(ct, ct2, out);
        ev.relinearize_inplace(out, rk);
    });
    ev.multiply(ct, ct2, tmp);
    run("relinearize_incl_copy", [&] {
        out = tmp;
        ev.relinearize_inplace(out, rk);
    });
    run("rotate_rows_1", [&] { ev.rotate_rows(ct, 1, gk, out); });
    run("mod_switch_down_incl_copy", [&] {
        out = ct;
        ev.mod_switch_to_next_inplace(out);
    });
    run("copy", [&] { out = ct; });
    out = ct;
    run("add_inplace", [&] { ev.add_inplace(out, ct2); });
    // SEAL has no fused multiply-accumulate: 16 products into a temporary, 16 adds.
    run("mac_plain_16", [&] {
        ev.multiply_plain(ctn, ptn, out);
        for (int i = 1; i < 16; i++) {
            ev.multiply_plain(ctn, ptn, tmp);
            ev.add_inplace(out, tmp);
        }
    });
    // Nearest SEAL form of mask-and-flood: copy + fresh Enc_pk(0) added + plaintext subtracted
    // (SEAL has no 40-bit flooding noise sampler; its encryption noise is the usual one).
    run("mask_and_flood_40_incl_copy", [&] {
        out = ct;
        enc.encrypt_zero(tmp);
        ev.add_inplace(out, tmp);
        ev.sub_plain_inplace(out, pt);
    });
    std::printf("{\"bench\": \"seal\", \"seal_version\": \"%d.%d.%d\", \"hexl\": %s, \"n\": %zu, \"t\": %llu, \"us\": {",
                SEAL_VERSION_MAJOR, SEAL_VERSION_MINOR, SEAL_VERSION_PATCH,
#ifdef SEAL_USE_INTEL_HEXL
                "true",
#else
                "false",
#endif
                n, (unsigned long long)t_mod);
    for (size_t i = 0; i < r.size(); i++)
        std::printf("%s\"%s\": %.1f", i ? ", " : "", r[i].first.c_str(), r[i].second);
    std::printf("}}\n");
    return 0;
}
