/* SOFTMAX int8 -> int8 with TFLM's reference arithmetic (reference_ops::Softmax, gemmlowp fixed point):
 * input differences to the row maximum scaled to Q5.26, exp() by gemmlowp's exp_on_negative_values, the
 * sum in Q12.19, its reciprocal by Newton-Raphson (one_over_one_plus_x_for_x_in_0_1), output offset -128.
 * Written from the algorithm's description; each helper names the gemmlowp function it must equal. Run once
 * per inference on a few values: the helpers stay out of line (flash matters more than their calls). */
#include "kws_kernels.h"
#include "kws_fixedpoint.h"

/* SaturatingRoundingDoublingHighMul, one copy. */
static KWS_NOINLINE int32_t kws_sm_srdhm(int32_t a, int32_t b) {
    return kws_srdhm(a, b);
}

/* SaturatingRoundingMultiplyByPOT<exponent> for exponent > 0: a saturating left shift. */
static KWS_NOINLINE int32_t kws_sat_shl(int32_t x, int32_t exponent) {
    const int32_t threshold = (int32_t)(((int64_t)1 << (31 - exponent)) - 1);
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return (int32_t)((int64_t)x * ((int64_t)1 << exponent));
}

/* exp(a) for a in [-1/4, 0), Q0.31 in and out (exp_on_interval_between_negative_one_quarter_and_0_excl). */
static int32_t kws_exp_quarter(int32_t a) {
    const int32_t constant_term = 1895147668;   /* exp(-1/8) */
    const int32_t one_third = 715827883;        /* 1/3 */
    const int32_t x = a + (1 << 28);            /* a + 1/8 */
    const int32_t x2 = kws_sm_srdhm(x, x);
    const int32_t x3 = kws_sm_srdhm(x2, x);
    const int32_t x4 = kws_sm_srdhm(x2, x2);
    const int32_t x4_over_4 = kws_rdbpot(x4, 2);
    const int32_t poly = kws_rdbpot(kws_sm_srdhm(x4_over_4 + x3, one_third) + x2, 1);
    return constant_term + kws_sm_srdhm(constant_term, x + poly);
}

/* exp(a) for a <= 0 given in Q5.26; result Q0.31 (exp_on_negative_values with 5 integer bits). */
static KWS_NOINLINE int32_t kws_exp_negative_q5(int32_t a) {
    static const int32_t multipliers[7] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
    const int32_t one_quarter = 1 << 24;
    const int32_t mod_minus_quarter = (a & (one_quarter - 1)) - one_quarter;
    const int32_t remainder = mod_minus_quarter - a;
    int32_t result = kws_exp_quarter(kws_sat_shl(mod_minus_quarter, 5));
    int32_t k;
    for (k = 0; k < 7; ++k) {  /* exp(-2^(k-2)) for each set bit of the remainder, bits 24..30 */
        if (remainder & ((int32_t)1 << (24 + k))) {
            result = kws_sm_srdhm(result, multipliers[k]);
        }
    }
    return a == 0 ? INT32_MAX : result;
}

/* 1 / (1 + a) for a in [0, 1), Q0.31 in and out (one_over_one_plus_x_for_x_in_0_1). */
static int32_t kws_one_over_one_plus_x(int32_t a) {
    const int64_t sum = (int64_t)a + INT32_MAX;
    const int32_t half_denominator = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);  /* RoundingHalfSum */
    const int32_t c48_17 = 1515870810, c_neg32_17 = -1010580540;                /* Q2.29 */
    const int32_t one_q2 = 1 << 29;
    int32_t x = c48_17 + kws_sm_srdhm(half_denominator, c_neg32_17);
    int32_t i;
    for (i = 0; i < 3; ++i) {
        const int32_t hd_x = kws_sm_srdhm(half_denominator, x);
        x = x + kws_sat_shl(kws_sm_srdhm(x, one_q2 - hd_x), 2);
    }
    return kws_sat_shl(x, 1);  /* ExactMulByPot<-1> then Rescale<0> from Q1.30 */
}

static int32_t kws_count_leading_zeros(uint32_t x) {
    int32_t n = 0;
    if (x == 0) {
        return 32;
    }
    while (!(x & 0x80000000u)) {
        x <<= 1;
        ++n;
    }
    return n;
}

void kws_softmax_s8(const kws_softmax_params *p, const int8_t *in, int8_t *out) {
    int32_t i, c;
    for (i = 0; i < p->outer; ++i) {
        const int8_t *row = in + (size_t)i * p->depth;
        int8_t *dst = out + (size_t)i * p->depth;
        int32_t max_in_row = -128, sum_of_exps = 0, headroom, bits_over_unit, shifted_scale, exponent;
        for (c = 0; c < p->depth; ++c) {
            max_in_row = row[c] > max_in_row ? row[c] : max_in_row;
        }
        for (c = 0; c < p->depth; ++c) {
            const int32_t diff = row[c] - max_in_row;
            if (diff >= p->diff_min) {
                const int32_t scaled = kws_sm_srdhm(kws_shl_wrap(diff, p->input_left_shift), p->input_mult);
                sum_of_exps += kws_rdbpot(kws_exp_negative_q5(scaled), 12);  /* Rescale<12> */
            }
        }
        headroom = kws_count_leading_zeros((uint32_t)sum_of_exps);
        bits_over_unit = 12 - headroom;
        shifted_scale = kws_one_over_one_plus_x((int32_t)(((uint32_t)sum_of_exps << headroom) - 0x80000000u));
        exponent = bits_over_unit + 31 - 8;
        for (c = 0; c < p->depth; ++c) {
            const int32_t diff = row[c] - max_in_row;
            int32_t value = -128;
            if (diff >= p->diff_min) {
                const int32_t scaled = kws_sm_srdhm(kws_shl_wrap(diff, p->input_left_shift), p->input_mult);
                const int32_t exp_q0 = kws_exp_negative_q5(scaled);
                value = kws_clamp(kws_rdbpot(kws_sm_srdhm(shifted_scale, exp_q0), exponent) - 128, -128, 127);
            }
            dst[c] = (int8_t)value;
        }
    }
}
