{%- extends 'nbgrader/manage_submissions.tpl' -%}

{#- nbgrader's advice links a classic terminal page (/terminals/1) that fails under JupyterLab and names a
    command without the course's pre-flight: point to the course's tools instead. -#}
{%- block messages -%}
<div class="panel-group" id="accordion" role="tablist" aria-multiselectable="true">
  <div class="panel panel-default">
    <div class="panel-heading" role="tab" id="headingOne">
      <h4 class="panel-title">
        <a class="collapsed" role="button" data-toggle="collapse" data-parent="#accordion" href="#collapseOne" aria-expanded="false" aria-controls="collapseOne">
          Anleitung (zum Aufklappen klicken)
        </a>
      </h4>
    </div>
    <div id="collapseOne" class="panel-collapse collapse" role="tabpanel" aria-labelledby="headingOne">
      <div class="panel-body">
        <p>
          <b>Hinweis:</b> Hier bewertest du einzelne Abgaben mit den Symbolen unten. Alle Abgaben auf einmal
          bewertest du in der <a target="_blank" href="{{ base_url }}/kurs/">Kursverwaltung</a>
          („Alle Abgaben bewerten“) oder in einem Terminal (in JupyterLab: Datei → Neu → Terminal):
        </p>
        <pre>
cd "{{ course_dir }}"
python -m course grade "{{ assignment_id }}"</pre>
      </div>
    </div>
  </div>
</div>
{%- endblock -%}
