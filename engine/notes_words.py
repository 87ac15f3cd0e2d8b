"""Word lists and reading tables of the clinical-note reader (``compensa.engine.notes``).

Everything here is data: the words clinicians use for results, sides, doubt and denial, the
shorthand of KB names, and the cut-offs that turn a measurement into a result. Each cut-off repeats
the ``reading`` of its KB entry (kb/data) or ../shared/research/domain.md, so a change there is a
change here.
"""

from __future__ import annotations

#: Case kinds a note can fill, most important first (decides overlaps of equal length).
KIND_PRIORITY = ("red_flag", "test", "finding", "pain", "history", "yellow_flag", "diagnosis")
SECTION = {"pain": "pain", "finding": "findings", "test": "tests", "red_flag": "red_flags", "history": "history",
           "yellow_flag": "yellow_flags", "diagnosis": "diagnoses"}

#: Words next to a test that say it found something (weakness, tightness, pain, a fault).
POSITIVE = {"+ve", "+", "pos", "positive", "+ive", "weak", "weakness", "reduced", "tight", "tightness", "short",
            "limited", "provocative", "reproduces", "reproduced", "painful", "present", "++", "abnormal", "poor",
            "fails", "failed", "deficit", "increased", "excessive", "delayed", "tender", "restricted", "lag", "loss",
            "reproducing", "drops", "dropped", "collapse", "collapses", "gap", "sore", "4/5", "3/5", "2/5", "4-/5",
            "4+/5", "3+/5", "3-/5", "decreased", "low", "↓", "unable", "late", "ttp", "reproduce"}
#: Words next to a test that say it found nothing.
NEGATIVE = {"-ve", "-", "neg", "negative", "-ive", "normal", "nad", "wnl", "full", "strong", "clear", "unremarkable",
            "pain-free", "painless", "absent", "5/5", "good", "equal", "symmetrical", "intact", "nt", "non-tender",
            "fine", "ok", "nil"}
#: Explicit result marks: they speak for the test even a clause away ("SLR L to 60 deg, tight hamstrings
#: only, no leg pain (-ve)"); descriptive words count only in the test's own clause.
MARKS = {"+ve": "positive", "+ive": "positive", "pos": "positive", "positive": "positive", "-ve": "negative",
         "-ive": "negative", "neg": "negative", "negative": "negative", "wnl": "negative"}
#: Phrases right after a test that mean it gave no result.
NO_RESULT = ("not tested", "not assessed", "unable to assess", "not able to assess", "equivocal", "not recorded",
             "n/a", "not done", "not examined", "too irritable", "deferred")
#: Phrases that turn a descriptive positive word round ("not her familiar pain", "not present").
NEGATIVE_PHRASES = ("not present", "not tender", "non - tender", "not her familiar pain", "not his familiar pain",
                    "not the familiar pain", "not familiar", "no pain", "no change", "not painful", "not reproduced",
                    "not reproduce", "not weak")
SIDES = {"r": "right", "rt": "right", "right": "right", "l": "left", "lt": "left", "left": "left", "bilat": "both",
         "bilateral": "both", "bilaterally": "both", "both": "both", "b/l": "both", "(r)": "right", "(l)": "left"}
#: Words that say a red flag is in doubt; a doubted flag is "unsure", never "no".
UNSURE = {"unsure", "unclear", "possible", "possibly", "maybe", "uncertain", "vague"}
DOUBT_PHRASES = ("not sure", "unsure", "can't say", "can n't say", "ca n't say", "cannot say", "unclear", "uncertain",
                 "vague", "don't know", "do n't know", "not certain", "possibly", "maybe")
DIAGNOSED = {"dx", "diagnosed", "known", "hx", "history", "previous", "confirmed", "pmh", "dx'd", "with"}
#: Words right after a red flag that deny it ("bladder fine", "bowels normal", "Fever: no").
AFTER_DENIAL = {"fine", "normal", "nad", "ok", "unremarkable", "nil", "intact", "unaffected", "-ve", "neg", "negative",
                "no", "denied", "clear", "normally", "stable"}
#: Tokens a denial after a list of red flags reads across ("bladder and bowel normal", "bladder/bowel NAD").
LIST_GLUE = {"and", "or", "/", "&", ",", ":", "-", "?", "nor"}
#: Words that make a body part a complaint: "knee" in "knees cave in" or "patella not tender" is not pain.
PAIN_WORDS = {"pain", "pains", "painful", "ache", "aches", "aching", "achy", "sore", "soreness", "hurts", "hurt",
              "hurting", "burning", "discomfort", "headache", "headaches", "lbp", "lumbago", "sx", "symptoms", "throbbing",
              "niggle", "twinge", "stabbing", "sharp"}
#: Palpation words: a bone or tendon named with one of them is a palpation test, not a pain site.
TENDER_WORDS = {"tender", "ttp", "tenderness", "nt", "palpation", "palpated", "non-tender"}
TENDER_NEGATIVE = ("not tender", "non - tender", "non-tender", "nt", "no tenderness", "no bony tenderness",
                   "not ttp", "nil tenderness")
#: Strength words: a muscle or movement named with an MRC grade or one of these is a strength test.
POWER_WORDS = {"weak", "weakness", "strong", "power", "wnl", "strength"}

#: Clinical shorthand for words of KB names ("hip abd strength" for "hip abductor strength").
SHORTHAND = {"abductor": ("abd",), "abduction": ("abd",), "adductor": ("add",), "extension": ("ext",),
             "extensor": ("ext",), "flexion": ("flex",), "flexor": ("flex",), "external": ("ext", "e"),
             "internal": ("int", "i"), "rotation": ("rot", "r"), "strength": ("str", "strength"),
             "single-leg": ("sl", "single leg"), "single": ("sl",), "range": ("rom",), "test": ("",),
             "endurance": ("end",), "bilateral": ("bilat",), "shoulder": ("sh",), "lumbar": ("lx",),
             "cervical": ("cx",), "thoracic": ("tx",), "weight": ("wt",), "middle": ("mid",),
             "minutes": ("min", "mins"), "fracture": ("#",), "four": ("4",), "quadriceps": ("quads",),
             "abdominal": ("abdo",), "history": ("hx",), "trapezius": ("trap",)}

#: Words that deny a red flag (or a history item) by themselves, matched like KB names.
DENIALS = {"afebrile": "fever", "apyrexial": "fever", "no injury": "significant_trauma",
           "no trauma": "significant_trauma", "no fall": "significant_trauma", "without injury": "significant_trauma",
           "without trauma": "significant_trauma", "weight bearing": "cannot_take_four_steps",
           "able to weight bear": "cannot_take_four_steps", "can weight bear": "cannot_take_four_steps",
           "fwb": "cannot_take_four_steps", "walking normally": "cannot_take_four_steps",
           "walking ok": "cannot_take_four_steps", "can walk": "cannot_take_four_steps",
           "able to take 4 steps": "cannot_take_four_steps", "able to take four steps": "cannot_take_four_steps",
           "no recent injury": "recent_knee_injury", "no weight loss": "unexplained_weight_loss",
           "weight stable": "unexplained_weight_loss", "wt stable": "unexplained_weight_loss",
           "sleeps well": "night_pain", "not breathless": "chest_or_arm_pain",
           "changes with movement": "non_mechanical_thoracic_pain", "eases with movement": "non_mechanical_thoracic_pain",
           "mechanical pain": "non_mechanical_thoracic_pain", "vision normal": "sudden_vision_loss",
           "systemically well": "feeling_very_unwell", "not unwell": "feeling_very_unwell"}
HISTORY_DENIALS = {"first sprain": "previous_ankle_sprain", "first ever episode": "previous_low_back_pain",
                   "first episode": "previous_low_back_pain"}

#: Red flags that a passing symptom is not: "intermittent P&N", "tingling when working with her arms up".
TRANSIENT_FLAGS = {"persistent_numbness"}
TRANSIENT_WORDS = ("intermittent", "on and off", "comes and goes", "come and go", "occasional", "at times",
                   "sometimes", "when ", "now and then", "relieved", "shakes", "tingle on and off")
#: A red flag that a relief (a change of position, shaking the hand) answers no.
EASED_FLAGS = {"night_pain"}

#: A red flag that *is* a suspicion: "?stress #" or "?femoral neck stress #" raises it, not doubts it.
SUSPICION_SUFFIXES = ("_suspected", "_signs")

#: Generic sign names that mean a different test by region ("distraction" of the neck or of the SIJ).
REGIONAL = {
    "distraction": {"neck": "cervical_distraction_test", "pelvis": "sij_distraction"},
    "er strength": {"shoulder": "shoulder_external_rotation_strength", "hip": "hip_external_rotator_strength"},
    "er power": {"shoulder": "shoulder_external_rotation_strength", "hip": "hip_external_rotator_strength"},
    "anterior drawer": {"ankle": "anterior_drawer_ankle", "foot": "anterior_drawer_ankle"},
}
#: Words in a test's clause that say another structure was tested ("Tinel over the ulnar nerve").
EXCLUDERS = {"tinel_carpal_tunnel": ("ulnar", "cubital", "elbow", "peroneal", "fibular", "tarsal", "radial tunnel"),
             "straight_leg_raise": ("crossed", "contralateral", "well leg", "well-leg"),
             "calf_swelling_and_tenderness": ("upper limb", "arm"),
             "achilles_gap_palpation": ("hamstring", "patella", "quadriceps", "quads", "kneecap")}
#: Test names that state the finding themselves: named without a result word they are positive.
SELF_POSITIVE = ("reduced", "loss", "limited", "weakness", "deficit", "centralises", "centralizes", ">",
                 "greater than", "restricted", "numbness", "wasting", "tightness", "painful arc", "gap")

#: Measurements that decide a result: id -> (units, comparison, cut-off, source of the cut-off).
#: "lt" is positive below the cut-off, "gt" above it, "ge_abs" at or above it in absolute value.
CUTOFFS = {
    "navicular_drop": (("mm",), "gt", 10.0, "KB reading: drop more than 10 mm (Brody 1982, domain.md 3.9)"),
    "knee_to_wall_test": (("cm",), "lt", 10.0, "KB reading: cannot touch the wall with the toe 9-10 cm away"),
    "wrist_ratio_index": (("",), "gt", 0.67, "KB reading: ratio greater than 0.67 (Wainner 2005)"),
    "cts_symptom_severity_scale": (("",), "gt", 1.9, "KB reading: average score greater than 1.9"),
    "cumberland_ankle_instability_tool": (("/30", ""), "lt", 24.0, "KB reading: CAIT score below 24"),
    "cervical_rotation_range": (("deg", "°", "degrees"), "lt", 60.0, "KB reading: rotation under 60 degrees"),
    "flexion_rotation_test": (("deg", "°", "degrees"), "le", 30.0, "domain.md: FRT about 30 degrees or less"),
    "hamstring_90_90": (("deg", "°", "degrees"), "ge_abs", 20.0, "KB reading: knee about 20 degrees short of straight"),
    "mouth_opening_limited": (("mm",), "lt", 40.0, "KB reading: assisted opening under 40 mm"),
    "knee_flexion_below_90": (("deg", "°", "degrees"), "lt", 90.0, "Ottawa knee rule: cannot flex to 90 degrees"),
    # "lsi": the first side's count over the other side's; below 0.9 is a deficit (limb symmetry index,
    # KB reading: clearly fewer rises than on the other leg)
    "single_leg_heel_raise": (("", "reps"), "lsi", 0.9, "KB reading: clearly fewer rises than the other leg"),
}
#: Names that count only with a measurement after them ("Knee flexion 110 deg").
MEASURED_NAMES = {"knee flexion": ("red_flag", "knee_flexion_below_90"), "opening": ("test", "mouth_opening_limited"),
                  "cx rot": ("test", "cervical_rotation_range"), "cx rotation": ("test", "cervical_rotation_range"),
                  "wrist ratio": ("test", "wrist_ratio_index")}
