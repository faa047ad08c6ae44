# Анықтамалық деректер (НСА), қазақша: анықтамалықтардың атаулары және қателер.
# Кілт: reference- + анықтамалық атауы, онда _ таңбасы - таңбасына ауыстырылған.

reference-product-groups = Тауар топтары
reference-tnved = ЕАЭО СЭҚ ТН кодтары
reference-countries = Елдер
reference-regions = Қазақстан өңірлері (ӘАОЖ)
reference-units = Өлшем бірліктері
reference-document-kinds = Құжат түрлері
reference-withdrawal-reasons = Айналымнан шығару себептері
reference-write-off-reasons = Кодтарды есептен шығару себептері
reference-violation-kinds = Бұзушылық түрлері

error-reference-not-found = «{ $name }» анықтамалығы жоқ. Анықтамалықтар тізімі: /v1/reference.
