"""Plausible wrong answers to the exercises of notebooks/10_explicit_models.ipynb (see tests/exercise_harness.py)."""

ROWS = '''
my_rows = [(text, posterior(findings)) for text, findings, _ in explain.explaining_away(net)]
'''

NOISY_OR = '''
def noisy_or(present, strengths, leak):
    fail = 1.0 - leak
    for on, s in zip(present, strengths):
        if on:
            fail *= 1.0 - s
    return 1.0 - fail
'''


def _posterior(absent_line="w *= p if present else 1 - p", normalise=True):
    total = "total = sum(weight.values())" if normalise else "total = 1.0"
    return f'''
def posterior(findings, p_flu=0.1, p_strep=0.05):
    weight = {{}}
    for flu, strep in itertools.product((False, True), repeat=2):
        causes = {{"flu": flu, "strep": strep}}
        w = (p_flu if flu else 1 - p_flu) * (p_strep if strep else 1 - p_strep)
        for symptom, present in findings.items():
            parents = explain.SYMPTOM_CAUSES[symptom]
            p = noisy_or([causes[c] for c in parents], [explain.STRENGTH[(symptom, c)] for c in parents],
                         explain.LEAK)
            {absent_line}
        weight[flu, strep] = w
    {total}
    return {{"flu": (weight[True, False] + weight[True, True]) / total,
            "strep": (weight[False, True] + weight[True, True]) / total}}
'''


SURROGATE_START = '''
def sample_patients(n, seed):
    rng = np.random.default_rng(seed)
'''

SAMPLER = '''
def sample_patients(n, seed):
    rng = {rng}
    {causes}
    columns = [causes["flu"], causes["strep"]]
    for symptom in ("x", "y", "z", "u"):
        fail = np.full(n, 1 - explain.LEAK)
        for c in explain.SYMPTOM_CAUSES[symptom]:
            fail = np.where(causes[c], fail * (1 - {strength}), fail)
        columns.append(rng.random(n) < 1 - fail)
    return np.stack(columns, axis=1)
'''


def _sampler(rng="np.random.default_rng(seed)",
             causes='causes = {"flu": rng.random(n) < 0.1, "strep": rng.random(n) < 0.05}',
             strength="explain.STRENGTH[(symptom, c)]"):
    return SAMPLER.format(rng=rng, causes=causes, strength=strength)


SWAPPED_Y = ("explain.STRENGTH[(symptom, {'flu': 'strep', 'strep': 'flu'}[c] if symptom == 'y' else c)]")


def _claim(reply_check="reply in after.legal_moves() and value(after, reply) == explain.minimax(after)[0]",
           better="value(state, alternative) < value(state, played)"):
    return f'''
def claim_holds(state, played, alternative, reply):
    legal = state.legal_moves()
    if played not in legal or alternative not in legal:
        return False
    value = lambda s, m: -explain.minimax(s.play(m))[0]
    if not {better}:
        return False
    after = state.play(alternative)
    return {reply_check}
''' + VERDICTS


VERDICTS = '''
verdicts = [claim_holds(e.state, e.played, e.alternative, e.reply) for e in all_expls[:5]]
'''

MUTANTS = {
    "q1_posterior_by_hand": [
        ("forgets to normalise (returns the joint)", '''def posterior_flu_given_z(p_flu, p_z_given_flu, p_z_given_no_flu):
    return p_z_given_flu * p_flu
'''),
        ("confuses P(z | flu) with P(flu | z)", '''def posterior_flu_given_z(p_flu, p_z_given_flu, p_z_given_no_flu):
    return p_z_given_flu
'''),
        ("drops P(no flu) from the second term", '''def posterior_flu_given_z(p_flu, p_z_given_flu, p_z_given_no_flu):
    joint_flu = p_z_given_flu * p_flu
    return joint_flu / (joint_flu + p_z_given_no_flu)
'''),
    ],
    "q2_noisy_or": [
        ("noisy-OR without the leak", '''def noisy_or(present, strengths, leak):
    fail = 1.0
    for on, s in zip(present, strengths):
        if on:
            fail *= 1.0 - s
    return 1.0 - fail
''' + _posterior() + ROWS),
        ("noisy-AND: multiplies the strengths", '''def noisy_or(present, strengths, leak):
    p = 1.0
    for on, s in zip(present, strengths):
        if on:
            p *= s
    return max(p, leak) if any(present) else leak
''' + _posterior() + ROWS),
        ("treats an absent symptom as unobserved", NOISY_OR + _posterior("w *= p if present else 1") + ROWS),
        ("forgets to normalise", NOISY_OR + _posterior(normalise=False) + ROWS),
        ("pairs the strengths with the causes in reversed order", NOISY_OR + _posterior().replace(
            "[explain.STRENGTH[(symptom, c)] for c in parents]", "[explain.STRENGTH[(symptom, c)] for c in parents[::-1]]")
         + ROWS),
    ],
    "q3_surrogate": [
        ("samples each symptom from its marginal, ignoring the sampled causes", SURROGATE_START + '''    flu, strep = rng.random(n) < 0.1, rng.random(n) < 0.05
    marginal = {"x": 0.15, "y": 0.13, "z": 0.11, "u": 0.09}
    return np.stack([flu, strep] + [rng.random(n) < marginal[s] for s in "xyzu"], axis=1)
'''),
        ("noisy-OR without the leak", SURROGATE_START + '''    causes = {"flu": rng.random(n) < 0.1, "strep": rng.random(n) < 0.05}
    columns = [causes["flu"], causes["strep"]]
    for symptom in ("x", "y", "z", "u"):
        fail = np.ones(n)
        for c in explain.SYMPTOM_CAUSES[symptom]:
            fail = np.where(causes[c], fail * (1 - explain.STRENGTH[(symptom, c)]), fail)
        columns.append(rng.random(n) < 1 - fail)
    return np.stack(columns, axis=1)
'''),
        ("swaps the two priors", SURROGATE_START + '''    causes = {"flu": rng.random(n) < 0.05, "strep": rng.random(n) < 0.1}
    columns = [causes["flu"], causes["strep"]]
    for symptom in ("x", "y", "z", "u"):
        fail = np.full(n, 1 - explain.LEAK)
        for c in explain.SYMPTOM_CAUSES[symptom]:
            fail = np.where(causes[c], fail * (1 - explain.STRENGTH[(symptom, c)]), fail)
        columns.append(rng.random(n) < 1 - fail)
    return np.stack(columns, axis=1)
'''),
        ("draws one random number per patient and reuses it for every symptom", SURROGATE_START + '''    causes = {"flu": rng.random(n) < 0.1, "strep": rng.random(n) < 0.05}
    columns = [causes["flu"], causes["strep"]]
    shared = rng.random(n)
    for symptom in ("x", "y", "z", "u"):
        fail = np.full(n, 1 - explain.LEAK)
        for c in explain.SYMPTOM_CAUSES[symptom]:
            fail = np.where(causes[c], fail * (1 - explain.STRENGTH[(symptom, c)]), fail)
        columns.append(shared < 1 - fail)
    return np.stack(columns, axis=1)
'''),
        ("uses the strength as the probability that a cause fails", SURROGATE_START + '''    causes = {"flu": rng.random(n) < 0.1, "strep": rng.random(n) < 0.05}
    columns = [causes["flu"], causes["strep"]]
    for symptom in ("x", "y", "z", "u"):
        fail = np.full(n, 1 - explain.LEAK)
        for c in explain.SYMPTOM_CAUSES[symptom]:
            fail = np.where(causes[c], fail * explain.STRENGTH[(symptom, c)], fail)
        columns.append(rng.random(n) < 1 - fail)
    return np.stack(columns, axis=1)
'''),
        ("draws flu and strep from one shared random number (the causes are no longer independent)", _sampler(
            causes='shared = rng.random(n)\n    causes = {"flu": shared < 0.1, "strep": shared < 0.05}')),
        ("ignores the seed (a fresh generator every call)", _sampler(rng="np.random.default_rng()")),
        ("swaps the two strengths of y", _sampler(strength=SWAPPED_Y)),
        ("returns the probability of flu, so u_effect is a difference of probabilities", '''
def net_log_odds(findings):
    return explain.diagnose(findings)["flu"]
'''),
        ("subtracts the other way (u absent minus u present)", '''
def u_effect(log_odds, context):
    return log_odds({**context, "u": False}) - log_odds({**context, "u": True})
'''),
        ("compares u present with u unobserved instead of u absent", '''
def u_effect(log_odds, context):
    return log_odds({**context, "u": True}) - log_odds(context)
'''),
    ],
    "q4_minimax_value": [
        ("always maximises", '''def minimax_value(tree, maximizing=True):
    if not isinstance(tree, list):
        return tree
    return max(minimax_value(child, maximizing) for child in tree)
'''),
        ("MIN at the root", '''def minimax_value(tree, maximizing=True):
    if not isinstance(tree, list):
        return tree
    values = [minimax_value(child, maximizing) for child in tree]
    return min(values) if maximizing else max(values)
'''),
        ("only looks two levels deep (flattens deeper subtrees)", '''def minimax_value(tree, maximizing=True):
    def leaves(t):
        return [t] if not isinstance(t, list) else [v for c in t for v in leaves(c)]
    if not isinstance(tree, list):
        return tree
    values = [min(leaves(c)) if maximizing else max(leaves(c)) for c in tree]
    return max(values) if maximizing else min(values)
'''),
    ],
    "q5_verify_explanation": [
        ("accepts an equally good alternative (<= instead of <)", '''def claim_holds(state, played, alternative, reply):
    legal = state.legal_moves()
    if played not in legal or alternative not in legal:
        return False
    value = lambda s, m: -explain.minimax(s.play(m))[0]
    if not value(state, alternative) <= value(state, played):
        return False
    after = state.play(alternative)
    return reply in after.legal_moves() and value(after, reply) == explain.minimax(after)[0]
''' + VERDICTS),
        ("never checks that the reply is legal", '''def claim_holds(state, played, alternative, reply):
    legal = state.legal_moves()
    if played not in legal or alternative not in legal:
        return False
    value = lambda s, m: -explain.minimax(s.play(m))[0]
    if not value(state, alternative) < value(state, played):
        return False
    after = state.play(alternative)
    return value(after, reply) == explain.minimax(after)[0]
''' + VERDICTS),
        ("never checks the reply", '''def claim_holds(state, played, alternative, reply):
    legal = state.legal_moves()
    if played not in legal or alternative not in legal:
        return False
    value = lambda s, m: -explain.minimax(s.play(m))[0]
    return value(state, alternative) < value(state, played)
''' + VERDICTS),
        ("forgets the negamax sign (scores moves for the opponent)", '''def claim_holds(state, played, alternative, reply):
    legal = state.legal_moves()
    if played not in legal or alternative not in legal:
        return False
    value = lambda s, m: explain.minimax(s.play(m))[0]
    if not value(state, alternative) < value(state, played):
        return False
    after = state.play(alternative)
    return reply in after.legal_moves() and value(after, reply) == explain.minimax(after)[0]
''' + VERDICTS),
        ("drops the minus sign in the reply check (compares my value after the reply with theirs)", _claim(
            "reply in after.legal_moves() and explain.minimax(after.play(reply))[0] == explain.minimax(after)[0]")),
        ("accepts only the agent's own reply (best_move), not every equally good one", _claim(
            "reply in after.legal_moves() and reply == explain.best_move(after)")),
        ("compares the alternative with the best move's value instead of the move played", _claim(
            better="value(state, alternative) < explain.minimax(state)[0]")),
        ("accepts any reply that does not lose for the opponent", _claim(
            "reply in after.legal_moves() and value(after, reply) >= 0")),
        ("checks that the reply is best for me, not for the opponent", '''def claim_holds(state, played, alternative, reply):
    legal = state.legal_moves()
    if played not in legal or alternative not in legal:
        return False
    value = lambda s, m: -explain.minimax(s.play(m))[0]
    if not value(state, alternative) < value(state, played):
        return False
    after = state.play(alternative)
    return reply in after.legal_moves() and explain.minimax(after.play(reply))[0] == max(
        explain.minimax(after.play(r))[0] for r in after.legal_moves())
''' + VERDICTS),
    ],
}
