"""Le modèle de dépôt pré-rempli d'un signataire pour une période : une ligne par valeur attendue.

Colonnes clés verrouillées, cellules de saisie déverrouillées et contrôlées (nombre, bornes), rappel de la référence, de la
cible et de la valeur précédente, feuille d'instructions, métadonnées cachées pour vérifier au retour que le fichier est bien
celui qui a été demandé.

« Valeur précédente » a un seul sens, ici comme dans l'avertissement de saut et la confirmation du dépôt : la valeur qui
fait foi à la période précédente. Pour une période déjà déposée, « Valeur » et « Commentaire » sont pré-remplis du dernier
dépôt de chaque ligne (le partenaire corrige au lieu de tout ressaisir) ; les lignes d'un dépôt marqué « à corriger » sont
surlignées, et le commentaire de la coordination est recopié dans les instructions.
"""
from __future__ import annotations

import datetime as dt

import pandas as pd

from perr_metrics.stockage.magasin import Store
from perr_metrics.acces.droits import exiger_signataire, operation
from .depot import RE_PERIODE, SQL_VALEURS_COURANTES, attendus, signataires_couverts
from perr_metrics.commun.formats import format_date, format_valeur
from .validation import FEUILLE_META, FEUILLE_VALEURS, VERSION_MODELE, periode_precedente

COLONNES = [
    ("Code indicateur", 18), ("Indicateur", 55), ("Code périmètre", 14), ("Périmètre", 30), ("Période", 10),
    ("Unité", 10), ("Référence", 16), ("Cible", 16), ("Valeur précédente", 16), ("Valeur", 14), ("Commentaire", 50),
]
COL_VALEUR, COL_COMMENTAIRE = 10, 11


class ModeleImpossible(ValueError):
    pass


@operation("deposer")
def lignes_du_modele(store: Store, protocole: str, signataire: str, periode: str) -> tuple[dict, pd.DataFrame]:
    """Les lignes attendues d'un signataire (et de ses services) pour une période, avec leurs repères. Un contributeur
    n'obtient que celles de son signataire."""
    exiger_signataire(store, "deposer", protocole, signataire, objet=f"modèle {periode}")

    if not RE_PERIODE.match(str(periode)):
        raise ModeleImpossible(f"Période illisible : « {periode} » (attendu 2021 ou 2021-S1).")

    def lire(con):
        p = con.execute("SELECT code, titre, territoire, annee_debut, annee_fin, demonstration FROM protocole "
                        "WHERE code = ?", [protocole]).fetchone()
        if p is None:
            raise ModeleImpossible(f"Le protocole « {protocole} » n'existe pas dans cette base.")
        s = con.execute("SELECT nom FROM signataire WHERE protocole = ? AND code = ?", [protocole, signataire]).fetchone()
        if s is None:
            raise ModeleImpossible(f"Le signataire « {signataire} » n'existe pas dans le protocole {protocole}.")
        if not p[3] <= int(str(periode)[:4]) <= p[4]:
            raise ModeleImpossible(f"La période {periode} est hors du protocole ({p[3]}–{p[4]}).")
        couverts = signataires_couverts(con, protocole, signataire)
        a = attendus(con, protocole, str(periode))
        a = a[a["signataire"].isin(couverts)]
        per = con.execute("SELECT code, libelle FROM perimetre WHERE protocole = ?", [protocole]).df()
        ref = con.execute("SELECT indicateur, perimetre, annee, valeur FROM reference WHERE protocole = ?",
                          [protocole]).df()
        cib = con.execute("SELECT indicateur, perimetre, annee, valeur FROM cible WHERE protocole = ?",
                          [protocole]).df()
        cour = con.execute(SQL_VALEURS_COURANTES, [protocole]).df()
        # Le dernier dépôt de chaque valeur attendue de cette période, quel que soit son statut (les lignes d'un dépôt
        # « à corriger » sont celles à corriger), avec la dernière revue de ce dépôt.
        deja = con.execute("""
            SELECT v.indicateur, v.perimetre, v.periode, arg_max(v.valeur, v.depot_id) AS valeur,
                   arg_max(v.commentaire, v.depot_id) AS commentaire, max(v.depot_id) AS depot_id
            FROM valeur v JOIN depot d ON d.id = v.depot_id AND d.protocole = v.protocole
            WHERE v.protocole = ? AND v.annee = ? AND list_contains(CAST(? AS VARCHAR[]), d.signataire)
            GROUP BY ALL""", [protocole, int(str(periode)[:4]), sorted(couverts)]).df()
        revues = con.execute("""
            SELECT d.id AS depot_id, d.statut, d.fichier_nom, r.commentaire, r.auteur, r.revu_le
            FROM depot d LEFT JOIN (SELECT depot_id, arg_max(commentaire, revu_le) AS commentaire,
                                           arg_max(auteur, revu_le) AS auteur, max(revu_le) AS revu_le
                                    FROM revue_depot GROUP BY depot_id) r ON r.depot_id = d.id
            WHERE d.protocole = ? AND list_contains(CAST(? AS VARCHAR[]), d.signataire)""",
                            [protocole, sorted(couverts)]).df().set_index("depot_id")
        info = dict(code=p[0], titre=p[1], territoire=p[2], demonstration=bool(p[5]), signataire_nom=s[0])
        return info, a, per, ref, cib, cour, deja, revues

    info, a, per, ref, cib, cour, deja, revues = store.lire(lire)
    a = a.merge(per.rename(columns={"code": "perimetre", "libelle": "perimetre_libelle"}), on="perimetre", how="left")
    refs = {(r.indicateur, r.perimetre): (r.valeur, r.annee) for r in ref.itertuples()}
    cibles: dict = {}
    for r in cib.sort_values("annee").itertuples():
        cibles.setdefault((r.indicateur, r.perimetre), []).append((r.annee, r.valeur))
    courantes = {(r.indicateur, r.perimetre, r.periode): r.valeur for r in cour.itertuples()}

    def texte_ref(r):
        v = refs.get((r.indicateur, r.perimetre))
        return f"{format_valeur(v[0], r.unite)} ({v[1]})" if v else ""

    def texte_cible(r):
        liste = cibles.get((r.indicateur, r.perimetre), [])
        annee = int(r.periode[:4])
        cette_annee = [c for c in liste if c[0] == annee]
        choix = cette_annee[0] if cette_annee else (liste[-1] if liste else None)
        return f"{format_valeur(choix[1], r.unite)} en {choix[0]}" if choix else ""

    a["reference"] = [texte_ref(r) for r in a.itertuples()]
    a["cible"] = [texte_cible(r) for r in a.itertuples()]
    a["precedente"] = [courantes.get((r.indicateur, r.perimetre, periode_precedente(r.periode))) for r in a.itertuples()]
    a["precedente_texte"] = [format_valeur(v, u) if v is not None and pd.notna(v) else "" for v, u in
                             zip(a["precedente"], a["unite"])]
    dernier = {(r.indicateur, r.perimetre, r.periode): r for r in deja.itertuples()}
    trouves = [dernier.get((r.indicateur, r.perimetre, r.periode)) for r in a.itertuples()]
    a["valeur_deposee"] = [t.valeur if t is not None else None for t in trouves]
    a["commentaire_depose"] = [t.commentaire if t is not None and isinstance(t.commentaire, str) else None
                               for t in trouves]
    a["a_corriger"] = [t is not None and revues.at[int(t.depot_id), "statut"] == "à corriger" for t in trouves]
    ids = sorted({int(t.depot_id) for t in trouves if t is not None})
    info["a_corriger"] = [dict(depot_id=i, **revues.loc[i, ["fichier_nom", "commentaire", "auteur", "revu_le"]])
                          for i in ids if revues.at[i, "statut"] == "à corriger"]
    return info, a.reset_index(drop=True)


@operation("deposer")
def ecrire_modele_depot(store: Store, protocole: str, signataire: str, periode: str, flux) -> int:
    """Écrit le modèle (fichier ou flux binaire). Renvoie le nombre de lignes à remplir."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill, Protection
    from openpyxl.worksheet.datavalidation import DataValidation

    info, lignes = lignes_du_modele(store, protocole, signataire, str(periode))
    if lignes.empty:
        raise ModeleImpossible(f"Aucune valeur n'est attendue de « {signataire} » pour {periode} : aucun indicateur du "
                               "protocole n'est déclaré par ce signataire ni par ses services pour cette période.")
    wb = Workbook()
    notice = wb.active
    notice.title = "Instructions"
    texte = [
        f"Dépôt des valeurs — {info['territoire']}",
        "",
        f"Protocole : {info['titre']} ({info['code']})",
        f"Signataire : {info['signataire_nom']} ({signataire})",
        f"Période : {periode}",
        f"Généré le : {dt.date.today().strftime('%d/%m/%Y')}",
        "",
        "Comment remplir ce fichier :",
        f"• La feuille « {FEUILLE_VALEURS} » a une ligne par valeur attendue de vous pour cette période : un indicateur, "
        "un périmètre (quartier, commune ou territoire), une période.",
        "• Saisissez la valeur dans la colonne « Valeur » (colonne J) et, si utile, une explication dans « Commentaire ».",
        "• Les nombres s'écrivent à la française : 1234,5 ou 1 234,5. Un taux s'écrit en pourcentage : 12,5 pour 12,5 %.",
        "• Valeur inconnue : laissez la cellule vide et expliquez pourquoi dans le commentaire (n'écrivez pas « NC »).",
        "• Les colonnes A à I sont verrouillées : ne les modifiez pas, ne supprimez ni ne déplacez de ligne.",
        "• Référence, cible et valeur précédente (celle qui fait foi à la période précédente) sont rappelées pour vous "
        "aider à repérer une erreur de saisie.",
        "",
        "Déposer : page « Déposer » du tableau de bord, ou",
        f"python -m perr_metrics depot FICHIER.xlsx --protocole {protocole} --signataire {signataire} --periode {periode}",
        "Le fichier est contrôlé en entier avant tout enregistrement ; s'il y a un problème, la liste complète vous est",
        "donnée (feuille, cellule, valeur, ce qui était attendu) et rien n'est enregistré. Vous pouvez redéposer un fichier",
        "corrigé : la valeur la plus récente fait foi, les précédentes restent dans l'historique.",
    ]
    if lignes["valeur_deposee"].notna().any():
        n_deja = int(lignes["valeur_deposee"].notna().sum())
        texte[texte.index("Comment remplir ce fichier :") - 1:texte.index("Comment remplir ce fichier :") - 1] = [
            "", f"Période déjà déposée : {n_deja} valeur{'s' if n_deja > 1 else ''} sur {len(lignes)} "
            "pré-remplie" + ("s" if n_deja > 1 else "") + " avec votre dernier dépôt. Corrigez ce qui doit l'être, "
            "laissez le reste : le dépôt du fichier remplacera ces valeurs."]
    for d in info["a_corriger"]:
        texte[texte.index("Comment remplir ce fichier :") - 1:texte.index("Comment remplir ce fichier :") - 1] = [
            "", f"À CORRIGER : la coordination a marqué votre dépôt n° {d['depot_id']} ({d['fichier_nom']}) « à "
            f"corriger »" + (f" le {format_date(d['revu_le'].date())}" if pd.notna(d["revu_le"]) else "")
            + (f" ({d['auteur']})" if isinstance(d["auteur"], str) else "") + " : "
            + (f"« {d['commentaire']} »" if isinstance(d["commentaire"], str) else "sans commentaire.")
            + " Ses lignes sont surlignées en orange dans la feuille « Valeurs »."]
    if info["demonstration"]:
        texte.insert(1, "DONNÉES DE DÉMONSTRATION : ce protocole sert d'exemple ; ses valeurs sont fictives.")
    for i, l in enumerate(texte, 1):
        notice.cell(row=i, column=1, value=l)
    notice["A1"].font = Font(bold=True, size=14)
    notice.column_dimensions["A"].width = 120

    ws = wb.create_sheet(FEUILLE_VALEURS)
    entete = PatternFill("solid", fgColor="DCE6F1")
    saisie = PatternFill("solid", fgColor="FFF9D6")
    a_corriger = PatternFill("solid", fgColor="F8CBAD")
    for j, (titre, largeur) in enumerate(COLONNES, 1):
        c = ws.cell(row=1, column=j, value=titre)
        c.font = Font(bold=True)
        c.fill = entete
        c.alignment = Alignment(wrap_text=True, vertical="top")
        ws.column_dimensions[c.column_letter].width = largeur
    dv_pct = DataValidation(type="decimal", operator="between", formula1="0", formula2="100", allow_blank=True,
                            showErrorMessage=True, errorTitle="Pourcentage attendu",
                            error="Saisissez un pourcentage entre 0 et 100 (12,5 pour 12,5 %).",
                            promptTitle="Pourcentage", prompt="Un nombre entre 0 et 100 (12,5 pour 12,5 %).")
    dv_pos = DataValidation(type="decimal", operator="greaterThanOrEqual", formula1="0", allow_blank=True,
                            showErrorMessage=True, errorTitle="Nombre attendu",
                            error="Saisissez un nombre positif ou nul ; laissez vide si la valeur est inconnue.")
    dv_num = DataValidation(type="decimal", operator="between", formula1="-1E+15", formula2="1E+15", allow_blank=True,
                            showErrorMessage=True, errorTitle="Nombre attendu", error="Saisissez un nombre.")
    for r_i, r in enumerate(lignes.itertuples(), 2):
        deposee = None if r.valeur_deposee is None or pd.isna(r.valeur_deposee) else float(r.valeur_deposee)
        valeurs = [r.indicateur, r.libelle, r.perimetre, r.perimetre_libelle, r.periode, r.unite, r.reference,
                   r.cible, r.precedente_texte, deposee, r.commentaire_depose]
        for j, v in enumerate(valeurs, 1):
            c = ws.cell(row=r_i, column=j, value=v)
            if isinstance(v, str):
                c.data_type = "s"
        for j in (COL_VALEUR, COL_COMMENTAIRE):
            c = ws.cell(row=r_i, column=j)
            c.protection = Protection(locked=False)
            c.fill = a_corriger if r.a_corriger else saisie
        ws.cell(row=r_i, column=COL_VALEUR).number_format = "#,##0.##"
        cellule = f"J{r_i}"
        (dv_pct if r.unite == "%" else dv_pos).add(cellule)
    for dv in (dv_pct, dv_pos, dv_num):
        ws.add_data_validation(dv)
    ws.freeze_panes = "C2"
    ws.protection.sheet = True
    ws.protection.formatColumns = False      # le partenaire peut élargir une colonne
    ws.protection.autoFilter = False
    ws.auto_filter.ref = f"A1:K{max(len(lignes) + 1, 2)}"
    wb.active = 1

    meta = wb.create_sheet(FEUILLE_META)
    for i, (k, v) in enumerate([("modele", VERSION_MODELE), ("protocole", protocole), ("signataire", signataire),
                                ("periode", str(periode)), ("genere_le", dt.datetime.now().isoformat(timespec="seconds")),
                                ("lignes", str(len(lignes)))], 1):
        meta.cell(row=i, column=1, value=k)
        meta.cell(row=i, column=2, value=v).data_type = "s"
    meta.sheet_state = "veryHidden"
    wb.save(flux)
    return len(lignes)
