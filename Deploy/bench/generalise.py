"""Learning curves for users that ../shared/simulate does not ship, with per-column mistakes.

Imports simulate.py for its column pool, metrics and reference learners, adds three users with
other hidden preferences (written before tuning anything against them), and prints, per user and
seed, the corrections to 90%, the mean and minimum block after the block that reached 90%, and
the last 200 columns; with --show, AURORA's mistakes after reaching 90%.
Run through generalise.sh, which starts the learning-service and sets the environment.
"""
import argparse
import os
import random
import sys
from collections import Counter

sys.path.insert(0, os.environ["SIM_DIR"])
import simulate as S  # noqa: E402


def _n(st, key, default=0.0):
    value = st.get(key)
    return default if value is None else value


def policy_scaler(st):
    """Scales everything into a range; hashes wide categoricals."""
    t = st["inferred_type"]
    if t == "empty" or st["is_constant"] or st["id_like"]:
        return "drop_column"
    if t == "datetime":
        return "datetime_features"
    if t == "text":
        return "text_tfidf"
    if t == "boolean":
        return "one_hot_encode"
    if t == "categorical":
        return "one_hot_encode" if st["n_unique"] <= 20 else "hash_encode"
    if st["missing_ratio"] > 0.2:
        return "impute_mean"
    if st["in_unit_interval"]:
        return "keep"
    if abs(_n(st, "skewness")) > 2:
        return "quantile_transform"
    return "minmax_scale"


def policy_clinical(st):
    """Imputes any gap, clips outliers, power-transforms mild skew."""
    t = st["inferred_type"]
    if t == "empty" or st["missing_ratio"] > 0.7 or st["id_like"] or st["is_constant"]:
        return "drop_column"
    if t == "datetime":
        return "datetime_features"
    if t == "text":
        return "drop_column"
    if t == "boolean":
        return "keep"
    if t == "categorical":
        return "frequency_encode" if st["n_unique"] > 15 else "one_hot_encode"
    if st["missing_ratio"] > 0.0:
        return "impute_median"
    if _n(st, "outlier_ratio_iqr") > 0.02:
        return "clip_outliers"
    if st["non_negative"] and _n(st, "skewness") > 0.75:
        return "yeo_johnson"
    return "robust_scale"


def policy_offedge(st):
    """Thresholds away from round numbers: 12 categories, 15% missing, skewness 1.3, ..."""
    t = st["inferred_type"]
    if t == "empty" or st["is_constant"] or st["missing_ratio"] > 0.6:
        return "drop_column"
    if st["id_like"]:
        return "hash_encode"
    if t == "datetime":
        return "datetime_features"
    if t == "text":
        return "text_tfidf"
    if t == "boolean":
        return "ordinal_encode"
    if t == "categorical":
        return "one_hot_encode" if st["n_unique"] <= 12 else "frequency_encode"
    if st["missing_ratio"] > 0.15:
        return "impute_mean"
    if _n(st, "skewness") > 1.3:
        return "quantile_transform"
    if _n(st, "outlier_ratio_iqr") > 0.03 or _n(st, "kurtosis") > 5:
        return "clip_outliers"
    return "standard_scale"


EXTRA_USERS = [S.User("scaler", policy_scaler), S.User("clinical", policy_clinical), S.User("offedge", policy_offedge)]


def main():
    users = {user.name: user for user in S.USERS + EXTRA_USERS}
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", nargs="+", default=[user.name for user in EXTRA_USERS], choices=sorted(users))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--recommenders", nargs="+", default=["external", "tree"])
    parser.add_argument("--n-columns", type=int, default=1000)
    parser.add_argument("--show", action="store_true", help="list AURORA's mistakes after reaching 90%%")
    args = parser.parse_args()
    pool = S.build_pool(max_per_dataset=20, verbose=False)
    options = argparse.Namespace(external_cmd=os.environ["AURORA_SIM_ADAPTER"], external_oneshot=None, seed_noise=0.1, run_seed=0)
    prefix = f"generalise{random.randrange(10**9)}-"
    for seed in args.seeds:
        for name in args.users:
            user = users[name]
            sequence = random.Random(f"seq-{seed}-{user.name}").sample(pool, min(args.n_columns, len(pool)))
            for kind in args.recommenders:
                recommender = S.make_recommender(kind, options)
                user_id = f"{prefix}{user.name}-s{seed}"
                noise = random.Random(f"{seed}-{user.name}-noise")
                accepted, corrections, mistakes = [], [], []
                for index, (_, _, stats) in enumerate(sequence):
                    wanted = user.wanted(stats, noise)
                    got = recommender.recommend(user_id, stats)
                    accepted.append(got == wanted)
                    if got != wanted:
                        corrections.append(index)
                        mistakes.append((index, wanted, got, stats))
                    recommender.feedback(user_id, stats, got, wanted)
                metrics = S.metrics(accepted, corrections)
                summary = recommender.summary(user_id)
                recommender.close()
                reached = metrics["cols_to_90"]
                after = metrics["blocks"][(reached - 1) // 50 + 1:] if reached else []
                held = f"{sum(after) / len(after):.3f}, min {min(after):.2f}" if after else "-"
                print(f"seed={seed} {name:<16} {kind:<8} corrections to 90%: {metrics['corr_to_90']}, after: {held}, "
                      f"last 200: {metrics['last_200']:.3f}, corrections: {metrics['corrections']} {summary}", flush=True)
                if args.show and kind == "external" and reached:
                    late = [m for m in mistakes if m[0] >= reached]
                    print("  mistakes after 90% (wanted, got):", Counter((w, g) for _, w, g, _ in late).most_common(12))
                    for index, wanted, got, st in late[:40]:
                        print(f"   column {index}: wanted {wanted}, got {got}; {st['inferred_type']}, missing {st['missing_ratio']:.3f}, "
                              f"distinct {st['n_unique']}, skewness {_n(st, 'skewness'):.2f}, kurtosis {_n(st, 'kurtosis'):.1f}, "
                              f"outliers {_n(st, 'outlier_ratio_iqr'):.3f}")


if __name__ == "__main__":
    main()
