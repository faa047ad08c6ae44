# Бұзушылық туралы хабарламалар, қазақша: хабарлама мәртебелері
# (report-status-) және хабарламаны, инспектор кезегін бақылаудың өріс
# қателері (field-). Жалпы ережелер (field-required, field-too-long, …)
# auth.ftl және products.ftl файлдарында.

report-status-new = Жаңа
report-status-in-review = Қаралуда
report-status-confirmed = Расталды
report-status-rejected = Қабылданбады
report-status-inspection-scheduled = Тексеру жоспарланды
report-status-closed = Жабылды

field-unknown-violation-kind = «{ $value }» бұзушылық түрі анықтамалықта жоқ.
field-code-malformed = Код танылмады: оны толық көшіріңіз немесе қайта сканерлеңіз.
field-code-not-a-unit = Бұл көліктік қаптаманың коды (SSCC): тауар данасының кодын көрсетіңіз.
field-coordinate-range = Координата { $min } мен { $max } аралығында болуы керек.
field-place-required = Координаталарды немесе мекенжайды көрсетіңіз.
field-unknown-region = «{ $value }» өңірі анықтамалықта жоқ (ӘАОЖ коды керек).
field-shop-required = Дүкеннің атауын немесе БСН-ін көрсетіңіз.
field-unknown-inspector = { $value } инспекторы жоқ.
field-assignee-format = me, none немесе қызметкердің идентификаторы (UUID) болуы керек.
field-block-needs-confirmed = Кодты тек «Расталды» мәртебесімен бірге бұғаттауға болады.
field-not-boolean = true немесе false болуы керек.
field-cursor-format = Курсор алдыңғы беттің next_cursor мәні болуы керек (мысалы, 2026-000123).
field-date-range = Соңғы күн { $from } күнінен ерте болмауы керек.
